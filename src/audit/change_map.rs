//! Change histories in memory, by change id, within a budget: past it, the idlest are
//! handed out to go to disk (see [`super::history`]).

use super::history::ChangeState;
use super::model::hash;

/// Change histories by change id. There can be hundreds of thousands: they sit densely in
/// fixed-size segments, and the hash index holds only their positions. Growing never
/// moves a history: one vector doubling would copy every history and briefly hold two
/// copies, the peak memory of a large run.
///
/// Past the budget, the histories idle longest are handed out (to go to disk) and their
/// places reused. A change's events usually come close together in an audit trail, so
/// in a long run those histories are finished; one that comes back has its later events
/// go to disk too, where they are added to its saved history at the end.
#[derive(Default)]
pub struct ChangeMap {
    index: hashbrown::HashTable<u32>,
    segments: Vec<Vec<Entry>>,
    /// Places in use, and places given up by histories handed out, to reuse.
    len: usize,
    free: Vec<u32>,
    /// Counts lookups: each history's `seen` is this at its latest event.
    clock: u64,
    /// Hashes of the ids of histories handed out. A new id with one of these hashes
    /// (that change again, or rarely another with the same hash) goes to disk.
    handed_out: rustc_hash::FxHashSet<u64>,
}

/// A change id (empty for a free place), when its history last had an event, and the
/// history.
#[derive(Default)]
struct Entry {
    id: Box<str>,
    seen: u64,
    state: ChangeState,
}

/// Histories per segment (a power of two: a position splits into segment and offset).
const SEGMENT_BITS: u32 = 12;
const SEGMENT: usize = 1 << SEGMENT_BITS;

/// A position's segment and offset.
fn slot(i: u32) -> (usize, usize) {
    ((i >> SEGMENT_BITS) as usize, i as usize & (SEGMENT - 1))
}

/// Where a change's history is kept.
pub enum Held<'m> {
    Here(&'m mut ChangeState),
    /// On disk: its events are to be written there.
    OnDisk,
}

impl ChangeMap {
    pub(crate) fn with_capacity(n: usize) -> ChangeMap {
        ChangeMap {
            index: hashbrown::HashTable::with_capacity(n),
            ..ChangeMap::default()
        }
    }

    fn at(&self, i: u32) -> &Entry {
        let (s, o) = slot(i);
        &self.segments[s][o]
    }

    fn at_mut(&mut self, i: u32) -> &mut Entry {
        let (s, o) = slot(i);
        &mut self.segments[s][o]
    }

    fn find(&self, h: u64, id: &str) -> Option<u32> {
        let segments = &self.segments;
        self.index
            .find(h, |&i| {
                let (s, o) = slot(i);
                *segments[s][o].id == *id
            })
            .copied()
    }

    /// The history of change `id`, started if new. With `budget` histories already held,
    /// the idlest half are first given to `hand_out` (to keep on disk) and dropped here;
    /// a change handed out before stays on disk.
    pub(crate) fn get_or_start(
        &mut self,
        id: &str,
        at: i64,
        budget: usize,
        hand_out: impl FnMut(&str, &ChangeState),
    ) -> Held<'_> {
        let h = hash(id);
        self.clock += 1;
        let i = match self.find(h, id) {
            Some(i) => i,
            None if self.handed_out.contains(&h) => return Held::OnDisk,
            None => {
                if self.len >= budget {
                    // With no budget at all, nothing is held: every change is on disk.
                    if self.len == 0 {
                        return Held::OnDisk;
                    }
                    self.hand_out_idlest(hand_out);
                }
                self.insert(h, id, ChangeState::starting(at))
            }
        };
        let clock = self.clock;
        let entry = self.at_mut(i);
        entry.seen = clock;
        Held::Here(&mut entry.state)
    }

    fn insert(&mut self, h: u64, id: &str, state: ChangeState) -> u32 {
        let entry = Entry {
            id: Box::from(id),
            seen: self.clock,
            state,
        };
        let i = match self.free.pop() {
            Some(i) => {
                *self.at_mut(i) = entry;
                i
            }
            None => {
                let i = self
                    .segments
                    .last()
                    .map_or(0, |last| (self.segments.len() - 1) * SEGMENT + last.len())
                    as u32;
                if (i as usize).is_multiple_of(SEGMENT) {
                    self.segments.push(Vec::with_capacity(SEGMENT));
                }
                if let Some(last) = self.segments.last_mut() {
                    last.push(entry);
                }
                i
            }
        };
        self.len += 1;
        let segments = &self.segments;
        self.index.insert_unique(h, i, |&j| {
            let (s, o) = slot(j);
            hash(&segments[s][o].id)
        });
        i
    }

    /// Hands out the half of the histories idle longest (at least one) and frees their
    /// places.
    fn hand_out_idlest(&mut self, mut hand_out: impl FnMut(&str, &ChangeState)) {
        let mut by_seen: Vec<(u64, u32)> = self
            .segments
            .iter()
            .flatten()
            .zip(0u32..)
            .filter(|(e, _)| !e.id.is_empty())
            .map(|(e, i)| (e.seen, i))
            .collect();
        let n = (by_seen.len() / 2).max(1);
        if n < by_seen.len() {
            by_seen.select_nth_unstable(n);
        }
        for &(_, i) in &by_seen[..n] {
            let entry = std::mem::take(self.at_mut(i));
            let h = hash(&entry.id);
            hand_out(&entry.id, &entry.state);
            if let Ok(found) = self.index.find_entry(h, |&j| j == i) {
                found.remove();
            }
            self.handed_out.insert(h);
            self.free.push(i);
            self.len -= 1;
        }
    }

    /// Puts back a history read from disk. It is its change's first record there: a
    /// history leaves memory once, and its change's later events are written after it.
    pub(crate) fn restore(&mut self, id: &str, state: ChangeState) {
        let h = hash(id);
        debug_assert!(self.find(h, id).is_none(), "{id} restored twice");
        self.insert(h, id, state);
    }

    pub(crate) fn get(&self, id: &str) -> Option<&ChangeState> {
        self.find(hash(id), id).map(|i| &self.at(i).state)
    }

    /// How many histories were handed out to disk.
    pub(crate) fn handed_out(&self) -> usize {
        self.handed_out.len()
    }

    /// How many changes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every change held, with its id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ChangeState)> {
        self.segments
            .iter()
            .flatten()
            .filter(|e| !e.id.is_empty())
            .map(|e| (&*e.id, &e.state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::history::tests::event;
    use crate::audit::history::{update_change, Symbols};

    #[test]
    fn past_the_budget_the_idlest_histories_leave_and_do_not_come_back() {
        let mut map = ChangeMap::default();
        let mut symbols = Symbols::default();
        let mut out = Vec::new();
        let caps = (100, 8);
        let budget = std::cell::Cell::new(4);
        let mut add = |map: &mut ChangeMap, id: &str, at: i64, out: &mut Vec<String>| match map
            .get_or_start(id, at, budget.get(), |id, _| out.push(id.to_string()))
        {
            Held::Here(st) => {
                update_change(st, &event(id, "r", at), caps, &mut symbols);
                true
            }
            Held::OnDisk => false,
        };
        for (i, id) in ["A", "B", "C", "D"].iter().enumerate() {
            assert!(add(&mut map, id, i as i64, &mut out));
        }
        // A and B are touched again: C and D are now the idlest.
        assert!(add(&mut map, "A", 10, &mut out));
        assert!(add(&mut map, "B", 11, &mut out));
        assert!(add(&mut map, "E", 12, &mut out));
        out.sort();
        assert_eq!(out, ["C", "D"]);
        assert_eq!(map.len(), 3);
        let mut held: Vec<&str> = map.iter().map(|(id, _)| id).collect();
        held.sort_unstable();
        assert_eq!(held, ["A", "B", "E"]);
        assert!(map.get("C").is_none());
        // C left memory, so its later events go to disk; F takes a freed place.
        assert!(!add(&mut map, "C", 13, &mut out));
        assert!(add(&mut map, "F", 14, &mut out));
        assert_eq!(map.len(), 4);
        assert_eq!(map.get("A").map(|st| st.events), Some(2));
        // With no budget at all, every change is on disk.
        budget.set(0);
        let mut none = ChangeMap::default();
        assert!(!add(&mut none, "A", 0, &mut out));
        assert!(!add(&mut none, "A", 1, &mut out));
    }
}
