//! Change histories past the in-memory budget, kept on disk.
//!
//! A run with hundreds of thousands of changes would hold every history in memory until
//! the end. Past a budget, the histories idle longest are written to one of [`PARTITIONS`]
//! temporary files, chosen by change id, and leave memory; any later event of such a
//! change is appended to the same file after its history. The files are replayed one
//! partition at a time at the end: each history is read back and its later events added
//! in the order they came, so it comes out exactly as if it had been kept in memory.

use anyhow::Result;

use super::event::{ActorType, AuditEvent, Operation};
use super::policies::EventRef;
use super::spill::{partition_of, Dec, Enc, PartitionFiles, Partitions};

pub use super::spill::PARTITIONS;

/// What a change's history needs of one event.
#[derive(Debug, Clone, Copy)]
pub struct HistoryEvent<'a> {
    pub change_id: &'a str,
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
    /// Where the event sits: file, line and time.
    pub place: EventRef,
}

impl<'a> HistoryEvent<'a> {
    pub fn of(e: &'a AuditEvent<'_>, is_prod: bool) -> HistoryEvent<'a> {
        HistoryEvent {
            change_id: &e.change_id,
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
            place: EventRef {
                source: e.source,
                line: e.line,
                at: e.at,
            },
        }
    }
}

/// The partition a change id's events go to.
pub fn partition(change_id: &str) -> usize {
    partition_of(super::policies::hash(change_id))
}

/// Record kinds in the partition files.
const EVENT: u8 = 0;
const STATE: u8 = 1;

/// The spilled events and histories, one file per partition (made on the first record).
pub struct Spill {
    files: PartitionFiles,
    record: Vec<u8>,
    events: u64,
}

impl Default for Spill {
    fn default() -> Spill {
        Spill {
            files: PartitionFiles::new("change-histories"),
            record: Vec::with_capacity(256),
            events: 0,
        }
    }
}

/// An actor type as one byte, and back.
pub fn type_code(t: ActorType) -> u8 {
    match t {
        ActorType::Human => 0,
        ActorType::AiAgent => 1,
        ActorType::Service => 2,
    }
}

pub fn type_of(code: u8) -> ActorType {
    match code {
        0 => ActorType::Human,
        1 => ActorType::AiAgent,
        _ => ActorType::Service,
    }
}

impl Spill {
    /// One event of a change whose history is on disk.
    pub fn write(&mut self, h: &HistoryEvent) {
        self.record.clear();
        let flags = h.plan as u8
            | (h.approve as u8) << 1
            | (h.changes as u8) << 2
            | (h.is_prod as u8) << 3
            | (h.failed as u8) << 4;
        let mut e = Enc(&mut self.record);
        e.u8(EVENT)
            .u8(flags)
            .u8(type_code(h.actor_type))
            .i64(h.place.at)
            .u32(h.place.source)
            .u64(h.place.line);
        for text in [
            h.change_id,
            h.actor,
            h.resource,
            h.account,
            h.region,
            h.environment,
        ] {
            e.str(text);
        }
        self.files.write(partition(h.change_id), &self.record);
        self.events += 1;
    }

    /// A change's history so far, moved out of memory; `encode` writes it. The change's
    /// later events follow it in the same partition.
    pub fn write_state(&mut self, change_id: &str, encode: impl FnOnce(&mut Enc)) {
        self.record.clear();
        let mut e = Enc(&mut self.record);
        e.u8(STATE).str(change_id);
        encode(&mut e);
        self.files.write(partition(change_id), &self.record);
    }

    /// Flushes the files and hands them back to replay; `None` if nothing was spilled.
    pub fn finish(self) -> Result<Option<SpilledHistories>> {
        let events = self.events;
        Ok(self
            .files
            .finish()?
            .map(|files| SpilledHistories { events, files }))
    }
}

/// A record read back: an event, or a change's history as it was moved out of memory
/// (the change id, and the rest to decode).
pub enum Spilled<'a, 'r> {
    Event(HistoryEvent<'a>),
    State(&'a str, &'r mut Dec<'a>),
}

/// The partition files, ready to read back.
pub struct SpilledHistories {
    files: Partitions,
    /// How many events were spilled.
    pub events: u64,
}

impl SpilledHistories {
    /// Reads partition `p` and calls `each` for its records, in the order written;
    /// `each` gives `None` for a record it cannot read.
    pub fn replay(&self, p: usize, mut each: impl FnMut(Spilled) -> Option<()>) -> Result<()> {
        self.files.read(p, |rec| match rec.u8()? {
            EVENT => each(Spilled::Event(decode(rec)?)),
            STATE => {
                let id = rec.str()?;
                each(Spilled::State(id, rec))
            }
            _ => None,
        })
    }
}

fn decode<'a>(rec: &mut Dec<'a>) -> Option<HistoryEvent<'a>> {
    let (flags, actor_type) = (rec.u8()?, rec.u8()?);
    let at = rec.i64()?;
    let source = rec.u32()?;
    let line = rec.u64()?;
    Some(HistoryEvent {
        change_id: rec.str()?,
        plan: flags & 1 != 0,
        approve: flags & 2 != 0,
        changes: flags & 4 != 0,
        is_prod: flags & 8 != 0,
        failed: flags & 16 != 0,
        actor: rec.str()?,
        actor_type: type_of(actor_type),
        resource: rec.str()?,
        account: rec.str()?,
        region: rec.str()?,
        environment: rec.str()?,
        place: EventRef { source, line, at },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_events_come_back_as_written_in_their_partition_in_order() {
        let mut spill = Spill::default();
        let ids = ["CHG-1", "CHG-2", "CHG-3", "CHG-1", "", "CHG-2"];
        for (i, id) in ids.iter().enumerate() {
            spill.write(&HistoryEvent {
                change_id: id,
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
                place: EventRef {
                    source: i as u32,
                    line: u64::MAX - i as u64,
                    at: -5 + i as i64 * 1000,
                },
            });
        }
        let back = spill.finish().unwrap().expect("events were spilled");
        let mut seen = Vec::new();
        for p in 0..PARTITIONS {
            back.replay(p, |record| {
                let Spilled::Event(h) = record else {
                    panic!("only events were written")
                };
                assert_eq!(partition(h.change_id), p);
                seen.push((
                    h.place.source as usize,
                    h.change_id.to_string(),
                    h.place.at,
                    (h.plan, h.approve, h.changes, h.is_prod, h.failed),
                    h.actor.to_string(),
                    h.actor_type,
                    h.resource.len(),
                    h.place.line,
                ));
                Some(())
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
        assert!(
            Spill::default().finish().unwrap().is_none(),
            "nothing spilled, no files"
        );
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
