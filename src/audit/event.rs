//! The native audit event: what one person, service or AI agent did, read from any source
//! (native JSON lines / CSV / Parquet, CloudTrail, Kubernetes) into one shape.
//!
//! Text fields borrow from the input buffer where they can (`Cow`), so a JSON-lines file is
//! parsed without copying the fields the policies read, and not at all for the others.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize};

use crate::clock::parse_timestamp;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    #[default]
    Human,
    AiAgent,
    Service,
}

impl ActorType {
    pub const ALL: &'static str = "human, ai_agent, service";

    pub fn parse(text: &str) -> Option<ActorType> {
        match text {
            "human" => Some(ActorType::Human),
            "ai_agent" => Some(ActorType::AiAgent),
            "service" => Some(ActorType::Service),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::Human => "human",
            ActorType::AiAgent => "ai_agent",
            ActorType::Service => "service",
        }
    }
}

/// What kind of thing an event did to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Read,
    Plan,
    Create,
    Update,
    Delete,
    Deploy,
    PermissionChange,
    Approve,
}

impl Operation {
    pub const ALL: &'static str =
        "read, plan, create, update, delete, deploy, permission_change, approve";

    pub fn parse(text: &str) -> Option<Operation> {
        Some(match text {
            "read" => Operation::Read,
            "plan" => Operation::Plan,
            "create" => Operation::Create,
            "update" => Operation::Update,
            "delete" => Operation::Delete,
            "deploy" => Operation::Deploy,
            "permission_change" => Operation::PermissionChange,
            "approve" => Operation::Approve,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Plan => "plan",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Deploy => "deploy",
            Operation::PermissionChange => "permission_change",
            Operation::Approve => "approve",
        }
    }

    /// Changes something (as opposed to reading, planning or approving).
    pub fn changes(self) -> bool {
        !matches!(self, Operation::Read | Operation::Plan | Operation::Approve)
    }
}

/// One audit event, in the native schema.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// Milliseconds since the Unix epoch, UTC.
    pub at: i64,
    pub actor: Cow<'a, str>,
    pub actor_type: ActorType,
    /// Which AI tool, model or version (for AI agents).
    pub agent: Cow<'a, str>,
    pub action: Cow<'a, str>,
    pub operation: Operation,
    /// A delete of a role, policy, binding, user or key: a delete that is also a
    /// permission change (what it granted is gone), seen by policies of either.
    pub also_permission_change: bool,
    pub resource: Cow<'a, str>,
    pub resource_type: Cow<'a, str>,
    pub environment: Cow<'a, str>,
    pub account: Cow<'a, str>,
    pub region: Cow<'a, str>,
    pub change_id: Cow<'a, str>,
    pub dry_run: bool,
    pub approved_by: Cow<'a, str>,
    pub approver_type: Option<ActorType>,
    pub approved_at: Option<i64>,
    pub outcome: Cow<'a, str>,
    /// Whether the agent's prompt was logged (a reference is present).
    pub prompt_ref: bool,
    /// Whether the agent's tool call was logged.
    pub tool_call_ref: bool,
    /// For permission changes: what was granted (`*` for everything).
    pub grants: Cow<'a, str>,
    /// Index of the source file in the run's file list.
    pub source: u32,
    /// Line (JSON lines, CSV, Kubernetes) or record number (CloudTrail, Parquet), from 1.
    pub line: u64,
}

impl AuditEvent<'_> {
    /// Whether the event is an `op`: its operation, or a permission change that a delete
    /// also is.
    pub fn is(&self, op: Operation) -> bool {
        self.operation == op || (op == Operation::PermissionChange && self.also_permission_change)
    }

    /// The names of what the event is: its operation, then `permission_change` for a
    /// delete that is also one.
    pub fn operation_names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.operation.as_str()).chain(
            self.also_permission_change
                .then_some(Operation::PermissionChange.as_str()),
        )
    }

    /// The text of a field by its native name, for field-condition policies.
    pub fn field(&self, name: &str) -> Option<&str> {
        let b = |v: bool| if v { "true" } else { "false" };
        Some(match name {
            "actor" => &self.actor,
            "actor_type" => self.actor_type.as_str(),
            "agent" => &self.agent,
            "action" => &self.action,
            "operation" => self.operation.as_str(),
            "resource" => &self.resource,
            "resource_type" => &self.resource_type,
            "environment" => &self.environment,
            "account" => &self.account,
            "region" => &self.region,
            "change_id" => &self.change_id,
            "dry_run" => b(self.dry_run),
            "approved_by" => &self.approved_by,
            "approver_type" => self.approver_type.map_or("", ActorType::as_str),
            "outcome" => &self.outcome,
            "prompt_ref" => b(self.prompt_ref),
            "tool_call_ref" => b(self.tool_call_ref),
            "grants" => &self.grants,
            _ => return None,
        })
    }
}

pub fn millis_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Every field name of the native schema, in the order the CSV and JSON outputs use.
pub const NATIVE_FIELDS: &[&str] = &[
    "timestamp",
    "actor",
    "actor_type",
    "agent",
    "action",
    "operation",
    "resource",
    "resource_type",
    "environment",
    "account",
    "region",
    "change_id",
    "dry_run",
    "approved_by",
    "approver_type",
    "approved_at",
    "outcome",
    "prompt_ref",
    "tool_call_ref",
    "grants",
];

/// Why a record was not accepted: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub field: String,
    pub reason: String,
}

impl RecordError {
    pub fn new(field: &str, reason: impl Into<String>) -> RecordError {
        RecordError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A boolean written as JSON `true`/`false`, or as text in CSV.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flag(pub Option<bool>, pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<'a> {
            Bool(bool),
            #[serde(borrow)]
            Text(Cow<'a, str>),
        }
        Ok(match Option::<Raw>::deserialize(d)? {
            None => Flag(None, false),
            Some(Raw::Bool(b)) => Flag(Some(b), false),
            Some(Raw::Text(t)) => text_flag(&t),
        })
    }
}

/// Reads an optional text field, borrowing it from the input when it has no escapes.
/// (serde's own `Option<Cow<str>>` always copies.) Numbers and booleans become text.
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct Text;
    impl<'de> serde::de::Visitor<'de> for Text {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("text")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Text)
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(if v { "true" } else { "false" })))
        }
    }
    d.deserialize_option(Text)
}

/// A native record as read: every field optional, borrowed where possible; `build` checks
/// it. Fields the policies do not read are never materialised.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NativeRecord<'a> {
    #[serde(borrow, deserialize_with = "opt_text")]
    pub timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub actor: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub actor_type: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub agent: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub action: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub operation: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub resource: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub resource_type: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub environment: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub account: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub region: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub change_id: Option<Cow<'a, str>>,
    pub dry_run: Flag,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub approved_by: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub approver_type: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub approved_at: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub outcome: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub prompt_ref: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub tool_call_ref: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    pub grants: Option<Cow<'a, str>>,
}

/// Whether text is empty or only whitespace; the common case (a first byte that is
/// plainly text) is decided without trimming.
#[inline(always)]
fn blank(t: &str) -> bool {
    match t.as_bytes().first() {
        None => true,
        Some(c) if c.is_ascii_graphic() => false,
        Some(_) => t.trim().is_empty(),
    }
}

/// `t` trimmed of white space: as it is when it starts and ends with a visible ASCII
/// character (nearly always, and a test of two bytes), otherwise by `str::trim`.
#[inline(always)]
fn trimmed(t: &str) -> &str {
    match t.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => t,
        [only] if only.is_ascii_graphic() => t,
        _ => t.trim(),
    }
}

/// Reads a timestamp field into epoch milliseconds. (In line: the fast path is a few
/// dozen instructions, and the general parser's error is built out of line.)
#[inline]
pub fn parse_millis(text: &str, field: &str, tz: Tz) -> Result<i64, RecordError> {
    match utc_millis(text.as_bytes()) {
        Some(ms) => Ok(ms),
        None => parse_millis_slowly(text, field, tz),
    }
}

#[cold]
#[inline(never)]
fn parse_millis_slowly(text: &str, field: &str, tz: Tz) -> Result<i64, RecordError> {
    parse_timestamp(text, tz)
        .map(|t| t.timestamp_millis())
        .map_err(|e| RecordError::new(field, e.to_string()))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, optionally with milliseconds (`.sssZ`): the form nearly every
/// audit log writes, read straight into epoch milliseconds (a tenth of the general
/// parser's cost, and it runs for every event). Anything else, including a date that
/// does not exist, returns `None` and goes to the general parser and its error message.
#[inline]
fn utc_millis(b: &[u8]) -> Option<i64> {
    let (head, rest) = b.split_first_chunk::<19>()?;
    let millis = match rest {
        [b'Z'] => 0,
        [b'.', digits @ .., b'Z'] if digits.len() == 3 => number(digits, 0, 3)?,
        _ => return None,
    };
    let (date, time) = head.split_first_chunk::<10>()?;
    let (t, clock) = time.split_first_chunk::<1>()?;
    let clock: &[u8; 8] = clock.first_chunk()?;
    if t[0] != b'T' {
        return None;
    }
    let (hour, minute, second) = hh_mm_ss(clock)?;
    let days = match LAST_DAY.get() {
        Some((seen, days)) if seen == *date => days,
        _ => new_day(date)?,
    };
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// [`days_of`] a date not the last one read, remembered for the next timestamp. Out of
/// line: nearly every timestamp falls on the day before it, and the path that reads
/// them needs fewer registers without this.
#[cold]
#[inline(never)]
fn new_day(date: &[u8; 10]) -> Option<i64> {
    let days = days_of(date)?;
    LAST_DAY.set(Some((*date, days)));
    Some(days)
}

/// `HH:MM:SS` read as one machine word: each byte less its digit's or colon's code is
/// 0 to 9 at a digit and 0 at a colon, which three masks check at once (a byte below
/// its code wraps round to a high value, and fails the first).
#[inline]
fn hh_mm_ss(clock: &[u8; 8]) -> Option<(i64, i64, i64)> {
    let d = u64::from_le_bytes(*clock).wrapping_sub(u64::from_le_bytes(*b"00:00:00"));
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const COLONS: u64 = 0x0000_FF00_00FF_0000;
    // Six added to a digit 0 to 9 stays below 16; to 10 to 15, it does not.
    const SIX: u64 = 0x0606_0006_0600_0606;
    if d & HIGH != 0 || d & COLONS != 0 || d.wrapping_add(SIX) & HIGH != 0 {
        return None;
    }
    let two = |at: u32| ((d >> at) & 0xFF) as i64 * 10 + ((d >> (at + 8)) & 0xFF) as i64;
    let (hour, minute, second) = (two(0), two(24), two(48));
    (hour <= 23 && minute <= 59 && second <= 59).then_some((hour, minute, second))
}

/// The number written in the `len` bytes of `b` from `from`, if they are all digits (no
/// bytes: 0).
#[inline(always)]
fn number(b: &[u8], from: usize, len: usize) -> Option<i64> {
    b.get(from..from + len)?.iter().try_fold(0, |n, &c| {
        let v = c.wrapping_sub(b'0');
        (v <= 9).then(|| n * 10 + i64::from(v))
    })
}

thread_local! {
    /// The last `YYYY-MM-DD` read on this thread and its day number: events come in time
    /// order, so nearly every timestamp falls on the day of the one before, and the date
    /// is then neither checked nor converted again (about 2 % of an audit's instructions).
    static LAST_DAY: std::cell::Cell<Option<([u8; 10], i64)>> =
        const { std::cell::Cell::new(None) };
}

/// Days from 1970-01-01 to a `YYYY-MM-DD` date; `None` if it is not one, or the day does
/// not exist.
fn days_of(b: &[u8; 10]) -> Option<i64> {
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (number(b, 0, 4)?, number(b, 5, 2)?, number(b, 8, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > month_days {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The native fields that hold text: every native field but `dry_run`, a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Timestamp,
    Actor,
    ActorType,
    Agent,
    Action,
    Operation,
    Resource,
    ResourceType,
    Environment,
    Account,
    Region,
    ChangeId,
    ApprovedBy,
    ApproverType,
    ApprovedAt,
    Outcome,
    PromptRef,
    ToolCallRef,
    Grants,
}

impl Text {
    pub const ALL: [Text; 19] = [
        Text::Timestamp,
        Text::Actor,
        Text::ActorType,
        Text::Agent,
        Text::Action,
        Text::Operation,
        Text::Resource,
        Text::ResourceType,
        Text::Environment,
        Text::Account,
        Text::Region,
        Text::ChangeId,
        Text::ApprovedBy,
        Text::ApproverType,
        Text::ApprovedAt,
        Text::Outcome,
        Text::PromptRef,
        Text::ToolCallRef,
        Text::Grants,
    ];

    /// The field's name in the native schema.
    pub const fn name(self) -> &'static str {
        match self {
            Text::Timestamp => "timestamp",
            Text::Actor => "actor",
            Text::ActorType => "actor_type",
            Text::Agent => "agent",
            Text::Action => "action",
            Text::Operation => "operation",
            Text::Resource => "resource",
            Text::ResourceType => "resource_type",
            Text::Environment => "environment",
            Text::Account => "account",
            Text::Region => "region",
            Text::ChangeId => "change_id",
            Text::ApprovedBy => "approved_by",
            Text::ApproverType => "approver_type",
            Text::ApprovedAt => "approved_at",
            Text::Outcome => "outcome",
            Text::PromptRef => "prompt_ref",
            Text::ToolCallRef => "tool_call_ref",
            Text::Grants => "grants",
        }
    }
}

/// One native record as read, from any source, before it is checked: each reader gives
/// its fields through this, so [`build`] (the one place records are checked) reads
/// straight from the reader's own form, with nothing copied into an intermediate record.
pub trait RawRecord<'a> {
    /// A text field, `None` if absent or null; each field is taken once.
    fn take(&mut self, field: Text) -> Option<Cow<'a, str>>;
    /// The `dry_run` flag.
    fn dry_run(&self) -> Flag;
}

impl<'a> RawRecord<'a> for NativeRecord<'a> {
    fn take(&mut self, field: Text) -> Option<Cow<'a, str>> {
        match field {
            Text::Timestamp => self.timestamp.take(),
            Text::Actor => self.actor.take(),
            Text::ActorType => self.actor_type.take(),
            Text::Agent => self.agent.take(),
            Text::Action => self.action.take(),
            Text::Operation => self.operation.take(),
            Text::Resource => self.resource.take(),
            Text::ResourceType => self.resource_type.take(),
            Text::Environment => self.environment.take(),
            Text::Account => self.account.take(),
            Text::Region => self.region.take(),
            Text::ChangeId => self.change_id.take(),
            Text::ApprovedBy => self.approved_by.take(),
            Text::ApproverType => self.approver_type.take(),
            Text::ApprovedAt => self.approved_at.take(),
            Text::Outcome => self.outcome.take(),
            Text::PromptRef => self.prompt_ref.take(),
            Text::ToolCallRef => self.tool_call_ref.take(),
            Text::Grants => self.grants.take(),
        }
    }

    fn dry_run(&self) -> Flag {
        self.dry_run
    }
}

#[inline(always)]
fn required<'a>(r: &mut impl RawRecord<'a>, field: Text) -> Result<Cow<'a, str>, RecordError> {
    match r.take(field) {
        Some(t) if !blank(&t) => Ok(t),
        _ => Err(RecordError::new(field.name(), "is missing")),
    }
}

#[inline(always)]
fn text<'a>(r: &mut impl RawRecord<'a>, field: Text) -> Cow<'a, str> {
    r.take(field).unwrap_or(Cow::Borrowed(""))
}

/// A field that names one of a fixed set (`all`, listed in the error). In line, so that
/// `parse` is called directly rather than through a pointer.
#[inline(always)]
fn one_of<T>(
    text: &str,
    field: Text,
    parse: fn(&str) -> Option<T>,
    all: &str,
) -> Result<T, RecordError> {
    parse(text)
        .ok_or_else(|| RecordError::new(field.name(), format!("{text:?} is not one of {all}")))
}

/// Checks a record and turns it into an event. The first field found wrong is the one
/// reported, in this order: timestamp, actor, actor type, operation, approver type,
/// approval time, dry run, action, resource, environment.
pub fn build<'a>(
    r: impl RawRecord<'a>,
    tz: Tz,
    source: u32,
    line: u64,
) -> Result<AuditEvent<'a>, RecordError> {
    build_with(r, tz, source, line, |e| e)
}

/// [`build`], handing the event to `emit` (which can put it straight where it goes:
/// events are a few hundred bytes, and each copy through a return value costs).
#[inline(always)]
pub fn build_with<'a, T>(
    mut r: impl RawRecord<'a>,
    tz: Tz,
    source: u32,
    line: u64,
    emit: impl FnOnce(AuditEvent<'a>) -> T,
) -> Result<T, RecordError> {
    let r = &mut r;
    let at = parse_millis(&required(r, Text::Timestamp)?, "timestamp", tz)?;
    let actor = required(r, Text::Actor)?;
    let actor_type = one_of(
        &required(r, Text::ActorType)?,
        Text::ActorType,
        ActorType::parse,
        ActorType::ALL,
    )?;
    let operation = one_of(
        &required(r, Text::Operation)?,
        Text::Operation,
        Operation::parse,
        Operation::ALL,
    )?;
    let approver_type = match r.take(Text::ApproverType).as_deref().map(trimmed) {
        None | Some("") => None,
        Some(t) => Some(one_of(
            t,
            Text::ApproverType,
            ActorType::parse,
            ActorType::ALL,
        )?),
    };
    let approved_at = match r.take(Text::ApprovedAt).as_deref().map(trimmed) {
        None | Some("") => None,
        Some(t) => Some(parse_millis(t, "approved_at", tz)?),
    };
    let dry_run = r.dry_run();
    if dry_run.1 {
        return Err(RecordError::new("dry_run", "is not true or false"));
    }
    // Every check first, so that the event below is built where it is going.
    let action = required(r, Text::Action)?;
    let resource = required(r, Text::Resource)?;
    let environment = required(r, Text::Environment)?;
    Ok(emit(AuditEvent {
        at,
        actor,
        actor_type,
        agent: text(r, Text::Agent),
        action,
        operation,
        also_permission_change: false,
        resource,
        resource_type: text(r, Text::ResourceType),
        environment,
        account: text(r, Text::Account),
        region: text(r, Text::Region),
        change_id: text(r, Text::ChangeId),
        dry_run: dry_run.0.unwrap_or(false),
        approved_by: text(r, Text::ApprovedBy),
        approver_type,
        approved_at,
        outcome: text(r, Text::Outcome),
        prompt_ref: r.take(Text::PromptRef).is_some_and(|t| !blank(&t)),
        tool_call_ref: r.take(Text::ToolCallRef).is_some_and(|t| !blank(&t)),
        grants: text(r, Text::Grants),
        source,
        line,
    }))
}

impl AuditEvent<'_> {
    /// Whether all the event's text borrows from its input (none is owned).
    pub fn owns_nothing(&self) -> bool {
        [
            &self.actor,
            &self.agent,
            &self.action,
            &self.resource,
            &self.resource_type,
            &self.environment,
            &self.account,
            &self.region,
            &self.change_id,
            &self.approved_by,
            &self.outcome,
            &self.grants,
        ]
        .iter()
        .all(|t| matches!(t, Cow::Borrowed(_)))
    }
}

/// A flag written as text: true/yes/1 or false/no/0, any case; anything else is marked
/// invalid (and the record rejected).
pub fn text_flag(v: &str) -> Flag {
    match v.trim().to_ascii_lowercase().as_str() {
        "" => Flag(None, false),
        "true" | "yes" | "1" => Flag(Some(true), false),
        "false" | "no" | "0" => Flag(Some(false), false),
        _ => Flag(None, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<AuditEvent<'_>, RecordError> {
        let rec: NativeRecord =
            serde_json::from_str(line).map_err(|e| RecordError::new("", e.to_string()))?;
        build(rec, chrono_tz::Europe::London, 0, 1)
    }

    #[test]
    fn the_text_fields_are_the_native_fields_but_dry_run() {
        let names: Vec<&str> = Text::ALL.iter().map(|f| f.name()).collect();
        let native: Vec<&str> = NATIVE_FIELDS
            .iter()
            .copied()
            .filter(|f| *f != "dry_run")
            .collect();
        assert_eq!(names, native);
        for (k, f) in Text::ALL.iter().enumerate() {
            assert_eq!(*f as usize, k, "{f:?}");
        }
    }

    #[test]
    fn trimmed_is_trim() {
        for t in [
            "", " ", "a", " a", "a ", "ab", " ab ", "\ta\n", "a b", "\u{a0}a", "a\u{a0}", "é",
            " é ",
        ] {
            assert_eq!(trimmed(t), t.trim(), "{t:?}");
        }
    }

    /// Each text, read by the fast path, gives what chrono gives.
    fn read_as_chrono_reads(texts: &[&str]) {
        let tz = chrono_tz::Europe::London;
        for text in texts {
            let slow = parse_timestamp(text, tz).unwrap().timestamp_millis();
            assert_eq!(utc_millis(text.as_bytes()), Some(slow), "{text}");
        }
    }

    /// Each text is left by the fast path to the general parser.
    fn left_to_the_general_parser(texts: &[&str]) {
        for text in texts {
            assert_eq!(utc_millis(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn a_timestamp_on_the_day_before_it_is_still_read_whole() {
        // On a fresh thread nothing is remembered: no date is taken for granted.
        left_to_the_general_parser(&["\0\0\0\0\0\0\0\0\0\0T00:00:00Z"]);
        read_as_chrono_reads(&[
            "2026-11-03T09:14:00Z",
            "2026-11-03T23:59:59.999Z",
            "2026-11-03T00:00:00Z",
            "2026-11-04T00:00:00Z",
            "2026-11-03T12:00:00Z",
        ]);
        // The remembered day does not excuse the time.
        left_to_the_general_parser(&[
            "2026-11-03T24:00:00Z",
            "2026-11-03T09:1x:00Z",
            "2026-11-03T09:14:60Z",
            "2026-11-03X09:14:00Z",
        ]);
    }

    #[test]
    fn the_fast_timestamp_path_agrees_with_chrono() {
        read_as_chrono_reads(&[
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2026-03-29T01:00:00Z",
            "2026-10-25T01:30:00.250Z",
            "2000-02-29T12:00:00Z",
            "1969-12-31T23:59:59.999Z",
            "2100-03-01T00:00:00Z",
        ]);
        // Dates that do not exist, and other forms, go to the general parser.
        left_to_the_general_parser(&[
            "2026-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-03T24:00:00Z",
            "2026-11-03T09:14:00+01:00",
            "2026-11-03 09:14:00Z",
            "2026-11-03T09:14:00.5Z",
            // A byte that is not a digit, in each field, just below and above '0'..'9'.
            "2O26-11-03T09:14:00Z",
            "2026-1/-03T09:14:00Z",
            "2026-11-0:T09:14:00Z",
            "2026-11-03T 9:14:00Z",
            "2026-11-03T09:1a:00Z",
            "2026-11-03T09:14:0/Z",
            // A colon's place holding another byte, a digit's holding a colon.
            "2026-11-03T09;14:00Z",
            "2026-11-03T09914:00Z",
            "2026-11-03T09:14900Z",
            "2026-11-03T0::14:00Z",
            "2026-11-03T09:14:0:Z",
            "2026-11-03T~9:14:00Z",
            "2026-11-03T09:14:00.2:0Z",
            "2026-11-03T09:14:00.-50Z",
        ]);
        let tz = chrono_tz::Europe::London;
        assert!(parse_millis("2026-02-29T00:00:00Z", "timestamp", tz).is_err());
    }

    #[test]
    fn a_full_record_borrows_its_text() {
        let e = parse(r#"{"timestamp":"2026-11-03T09:14:00Z","actor":"opsbot","actor_type":"ai_agent","action":"DROP DATABASE customers","operation":"delete","resource":"rds:customers","environment":"prod","dry_run":false,"prompt_ref":"p://1","extra":{"ignored":[1,2]}}"#).unwrap();
        assert_eq!(e.operation, Operation::Delete);
        assert_eq!(e.actor_type, ActorType::AiAgent);
        assert!(matches!(e.actor, Cow::Borrowed(_)));
        assert!(e.prompt_ref && !e.tool_call_ref);
        assert_eq!(e.at, 1_793_697_240_000);
    }

    #[test]
    fn local_times_are_london_and_bad_fields_are_named() {
        let e = parse(r#"{"timestamp":"2026-07-01 10:00","actor":"a","actor_type":"human","action":"x","operation":"read","resource":"r","environment":"dev"}"#).unwrap();
        assert_eq!(
            millis_to_time(e.at).to_rfc3339(),
            "2026-07-01T09:00:00+00:00"
        );
        let err = parse(r#"{"timestamp":"2026-11-31T10:00:00Z","actor":"a","actor_type":"human","action":"x","operation":"read","resource":"r","environment":"dev"}"#).unwrap_err();
        assert_eq!(err.field, "timestamp");
        let err = parse(r#"{"timestamp":"2026-11-30T10:00:00Z","actor":"a","actor_type":"robot","action":"x","operation":"read","resource":"r","environment":"dev"}"#).unwrap_err();
        assert_eq!(err.field, "actor_type");
        assert!(err.reason.contains("robot"));
        let err = parse(r#"{"timestamp":"2026-11-30T10:00:00Z","actor_type":"human","action":"x","operation":"read","resource":"r","environment":"dev"}"#).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.reason.as_str()),
            ("actor", "is missing")
        );
        let err = parse(r#"{"timestamp":"2026-03-29 01:30","actor":"a","actor_type":"human","action":"x","operation":"read","resource":"r","environment":"dev"}"#).unwrap_err();
        assert!(err.reason.contains("does not exist"), "{}", err.reason);
    }
}
