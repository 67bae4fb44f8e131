//! Change histories past the in-memory budget, kept on disk.
//!
//! A run with hundreds of thousands of changes would hold every history in memory until
//! the end. Past a budget, each event of a change first seen after the budget was reached
//! is appended to one of [`PARTITIONS`] temporary files, chosen by its change id, and the
//! files are replayed one partition at a time at the end. A change is wholly in memory or
//! wholly in one partition, and its events keep their order in the file, so its history
//! comes out exactly as if it had been kept in memory.

use std::fs::File;
use std::io::{BufWriter, Read, Write};

use anyhow::{Context, Result};

use super::event::{ActorType, AuditEvent, Operation};
use super::policies::EventRef;

/// How many files the spilled histories are split over: each is replayed on its own, so
/// memory at the end is about the spilled histories over this.
pub const PARTITIONS: usize = 32;

/// What a change's history needs of one event.
#[derive(Debug, Clone, Copy)]
pub struct HistoryEvent<'a> {
    pub change_id: &'a str,
    pub at: i64,
    /// A plan or a dry run.
    pub plan: bool,
    pub approve: bool,
    /// It changes something (not a read, plan, approval or dry run).
    pub changes: bool,
    pub is_prod: bool,
    pub failed: bool,
    pub actor: &'a str,
    pub actor_type: ActorType,
    pub resource: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub environment: &'a str,
    pub at_ref: EventRef,
}

impl<'a> HistoryEvent<'a> {
    pub fn of(e: &'a AuditEvent<'_>, is_prod: bool) -> HistoryEvent<'a> {
        HistoryEvent {
            change_id: &e.change_id,
            at: e.at,
            plan: e.operation == Operation::Plan || e.dry_run,
            approve: e.operation == Operation::Approve,
            changes: e.operation.changes() && !e.dry_run,
            is_prod,
            failed: e.outcome == "failure",
            actor: &e.actor,
            actor_type: e.actor_type,
            resource: &e.resource,
            account: &e.account,
            region: &e.region,
            environment: &e.environment,
            at_ref: EventRef {
                source: e.source,
                line: e.line,
                at: e.at,
            },
        }
    }
}

/// The partition a change id's events go to.
pub fn partition(change_id: &str) -> usize {
    // The high bits: the hash tables use the low ones.
    (super::policies::hash(change_id) >> 40) as usize % PARTITIONS
}

/// The spilled events, one file per partition, in a temporary folder removed on drop.
pub struct Spill {
    dir: tempfile::TempDir,
    files: Vec<BufWriter<File>>,
    record: Vec<u8>,
    /// The first write error: reported when the histories are read back.
    error: Option<std::io::Error>,
    pub events: u64,
}

impl Spill {
    pub fn new() -> Result<Spill> {
        let dir = tempfile::Builder::new()
            .prefix("regwatch-audit-")
            .tempdir()
            .context("cannot make a temporary folder for change histories")?;
        let files = (0..PARTITIONS)
            .map(|p| {
                let path = dir.path().join(format!("{p}.bin"));
                File::create(&path)
                    .map(|f| BufWriter::with_capacity(64 << 10, f))
                    .with_context(|| format!("cannot create {}", path.display()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Spill {
            dir,
            files,
            record: Vec::with_capacity(256),
            error: None,
            events: 0,
        })
    }

    pub fn write(&mut self, h: &HistoryEvent) {
        if self.error.is_some() {
            return;
        }
        let r = &mut self.record;
        r.clear();
        r.extend_from_slice(&[0; 4]);
        let flags = h.plan as u8
            | (h.approve as u8) << 1
            | (h.changes as u8) << 2
            | (h.is_prod as u8) << 3
            | (h.failed as u8) << 4;
        let actor_type = match h.actor_type {
            ActorType::Human => 0u8,
            ActorType::AiAgent => 1,
            ActorType::Service => 2,
        };
        r.extend_from_slice(&[flags, actor_type]);
        r.extend_from_slice(&h.at.to_le_bytes());
        r.extend_from_slice(&h.at_ref.source.to_le_bytes());
        r.extend_from_slice(&h.at_ref.line.to_le_bytes());
        for text in [
            h.change_id,
            h.actor,
            h.resource,
            h.account,
            h.region,
            h.environment,
        ] {
            r.extend_from_slice(&(text.len() as u32).to_le_bytes());
            r.extend_from_slice(text.as_bytes());
        }
        let len = (r.len() - 4) as u32;
        r[..4].copy_from_slice(&len.to_le_bytes());
        if let Err(e) = self.files[partition(h.change_id)].write_all(r) {
            self.error = Some(e);
        }
        self.events += 1;
    }

    /// Flushes the files and hands back the folder to replay.
    pub fn finish(mut self) -> Result<SpilledHistories> {
        for f in &mut self.files {
            if self.error.is_none() {
                if let Err(e) = f.flush() {
                    self.error = Some(e);
                }
            }
        }
        if let Some(e) = self.error {
            return Err(e).with_context(|| {
                format!(
                    "cannot write change histories to {}",
                    self.dir.path().display()
                )
            });
        }
        drop(self.files);
        Ok(SpilledHistories {
            dir: self.dir,
            events: self.events,
        })
    }
}

/// The partition files, ready to read back.
pub struct SpilledHistories {
    dir: tempfile::TempDir,
    /// How many events were spilled.
    pub events: u64,
}

impl SpilledHistories {
    /// Reads partition `p` and calls `each` for its events, in the order they were seen.
    pub fn replay(&self, p: usize, mut each: impl FnMut(&HistoryEvent)) -> Result<()> {
        let path = self.dir.path().join(format!("{p}.bin"));
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {}", path.display()))?;
        let corrupt = || anyhow::anyhow!("{} is damaged", path.display());
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let (len, body) = take(rest, 4).ok_or_else(corrupt)?;
            let len = u32::from_le_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
            let (mut rec, after) = take(body, len).ok_or_else(corrupt)?;
            rest = after;
            let h = decode(&mut rec).ok_or_else(corrupt)?;
            each(&h);
        }
        Ok(())
    }
}

fn take(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= n).then(|| bytes.split_at(n))
}

fn decode<'a>(rec: &mut &'a [u8]) -> Option<HistoryEvent<'a>> {
    fn bytes<const N: usize>(rec: &mut &[u8]) -> Option<[u8; N]> {
        let (head, rest) = take(rec, N)?;
        *rec = rest;
        head.try_into().ok()
    }
    fn text<'a>(rec: &mut &'a [u8]) -> Option<&'a str> {
        let len = u32::from_le_bytes(bytes::<4>(rec)?) as usize;
        let (head, rest) = take(rec, len)?;
        *rec = rest;
        std::str::from_utf8(head).ok()
    }
    let [flags, actor_type] = bytes::<2>(rec)?;
    let at = i64::from_le_bytes(bytes::<8>(rec)?);
    let source = u32::from_le_bytes(bytes::<4>(rec)?);
    let line = u64::from_le_bytes(bytes::<8>(rec)?);
    Some(HistoryEvent {
        change_id: text(rec)?,
        at,
        plan: flags & 1 != 0,
        approve: flags & 2 != 0,
        changes: flags & 4 != 0,
        is_prod: flags & 8 != 0,
        failed: flags & 16 != 0,
        actor: text(rec)?,
        actor_type: match actor_type {
            0 => ActorType::Human,
            1 => ActorType::AiAgent,
            _ => ActorType::Service,
        },
        resource: text(rec)?,
        account: text(rec)?,
        region: text(rec)?,
        environment: text(rec)?,
        at_ref: EventRef { source, line, at },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_events_come_back_as_written_in_their_partition_in_order() {
        let mut spill = Spill::new().unwrap();
        let ids = ["CHG-1", "CHG-2", "CHG-3", "CHG-1", "", "CHG-2"];
        for (i, id) in ids.iter().enumerate() {
            spill.write(&HistoryEvent {
                change_id: id,
                at: -5 + i as i64 * 1000,
                plan: i == 0,
                approve: i == 1,
                changes: i % 2 == 0,
                is_prod: i == 3,
                failed: i == 5,
                actor: "agent-é",
                actor_type: if i == 2 {
                    ActorType::Service
                } else {
                    ActorType::AiAgent
                },
                resource: &"r".repeat(i * 100),
                account: "111111111111",
                region: "eu-west-2",
                environment: "prod",
                at_ref: EventRef {
                    source: i as u32,
                    line: u64::MAX - i as u64,
                    at: -5 + i as i64 * 1000,
                },
            });
        }
        let back = spill.finish().unwrap();
        let mut seen = Vec::new();
        for p in 0..PARTITIONS {
            back.replay(p, |h| {
                assert_eq!(partition(h.change_id), p);
                seen.push((
                    h.at_ref.source as usize,
                    h.change_id.to_string(),
                    h.at,
                    (h.plan, h.approve, h.changes, h.is_prod, h.failed),
                    h.actor.to_string(),
                    h.actor_type,
                    h.resource.len(),
                    h.at_ref.line,
                ));
            })
            .unwrap();
        }
        // Each change's events in the order written.
        for id in ["CHG-1", "CHG-2"] {
            let order: Vec<usize> = seen.iter().filter(|s| s.1 == id).map(|s| s.0).collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{id}: {order:?}");
        }
        seen.sort_by_key(|s| s.0);
        assert_eq!(seen.len(), ids.len());
        for (i, s) in seen.iter().enumerate() {
            assert_eq!(s.0, i);
            assert_eq!(s.1, ids[i]);
            assert_eq!(s.2, -5 + i as i64 * 1000);
            assert_eq!(s.3, (i == 0, i == 1, i % 2 == 0, i == 3, i == 5));
            assert_eq!(s.4, "agent-é");
            let want = if i == 2 {
                ActorType::Service
            } else {
                ActorType::AiAgent
            };
            assert_eq!(s.5, want);
            assert_eq!(s.6, i * 100);
            assert_eq!(s.7, u64::MAX - i as u64);
        }
    }
}
