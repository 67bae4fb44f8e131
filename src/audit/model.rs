//! Plain types shared across the audit: where an event sits, a finding, a hit before it
//! joins one. Nothing here imports the rest of the audit, so anything may import it.

use std::borrow::Cow;
use std::sync::Arc;

use rustc_hash::FxHasher;
use serde::Serialize;

use crate::controls::{RuleSource, Severity};

/// Where an event sits: file (index into the run's file list), line and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventRef {
    pub source: u32,
    pub line: u64,
    pub at: i64,
}

/// One breach of a policy: the events, who, what, and why it matters. The policy's own
/// text is shared between its findings (a run can have hundreds of thousands).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The policy's place in the run's list of enabled policies.
    #[serde(skip)]
    pub policy_index: usize,
    pub policy: Arc<str>,
    pub title: Arc<str>,
    pub severity: Severity,
    /// What happened, in one sentence.
    pub detail: String,
    pub rationale: Arc<str>,
    pub change_id: String,
    pub actors: Vec<String>,
    pub resources: Vec<String>,
    pub resource_count: u64,
    /// The first events (up to [`MAX_REFS`]), with `event_count` saying how many in all.
    pub events: Vec<EventRef>,
    pub event_count: u64,
    pub first_at: i64,
    pub last_at: i64,
    pub nist: Arc<[String]>,
    pub obligations: Arc<[String]>,
    /// Where the rule came from, when it is someone else's (a Sigma rule: its id,
    /// author and licence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Arc<RuleSource>>,
    /// The waiver that accepts it (its place in the run's waivers file), if one does;
    /// set as findings are read (see `Findings::scrub`).
    #[serde(skip)]
    pub waiver: Option<u32>,
}

impl Finding {
    /// What tells this finding from any other, the same on every run over the same
    /// logs: policy, change, first event's time, actors. SARIF's partial fingerprint,
    /// and the name of the finding's OCSF and OSCAL ids.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.policy,
            self.change_id,
            self.first_at,
            self.actors.join(",")
        )
    }

    /// The first `n` resources, and how many more there were.
    pub fn resources_text(&self, n: usize) -> String {
        let mut text = self
            .resources
            .iter()
            .take(n)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let shown = self.resources.len().min(n) as u64;
        let more = self.resource_count.max(self.resources.len() as u64) - shown;
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    }
}

/// Events, actors and resources listed per finding; the counts say how many there were.
pub const MAX_REFS: usize = 20;

/// One event that breaks a per-event check, before grouping into findings. Its names
/// borrow from the event (copied only for a hit kept to the end).
pub struct Hit<'a> {
    pub(crate) policy: usize,
    /// Events with the same key become one finding (one per change, say); empty for a
    /// finding of this event alone.
    pub(crate) group: Cow<'a, str>,
    pub(crate) detail: String,
    pub(crate) event: EventRef,
    pub(crate) actor: Cow<'a, str>,
    pub(crate) resource: Cow<'a, str>,
    pub(crate) change_id: Cow<'a, str>,
    /// Destructive events wait for the end: a human approval may come later in the file.
    pub(crate) awaits_approval: bool,
}

impl Hit<'_> {
    /// The hit with its own copy of what it borrowed.
    pub(crate) fn into_owned(self) -> Hit<'static> {
        Hit {
            policy: self.policy,
            group: Cow::Owned(self.group.into_owned()),
            detail: self.detail,
            event: self.event,
            actor: Cow::Owned(self.actor.into_owned()),
            resource: Cow::Owned(self.resource.into_owned()),
            change_id: Cow::Owned(self.change_id.into_owned()),
            awaits_approval: self.awaits_approval,
        }
    }

    /// For hits on a block's events numbered from the block's first line: moves the
    /// event down to its line in the file.
    pub fn move_down(&mut self, lines: u64) {
        self.event.line += lines;
    }

    /// The group, with an event's own finding named by its place.
    pub(crate) fn settle(mut self) -> Self {
        if self.group.is_empty() {
            self.group = Cow::Owned(format!("{}:{}", self.event.source, self.event.line));
        }
        self
    }
}

/// The run's one string hash: symbols, change ids, partitions and streams agree on it.
pub(crate) fn hash(text: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = FxHasher::default();
    h.write(text.as_bytes());
    h.finish()
}
