//! The input side of reading: opening a file (gunzipped as it is read) and, for JSON
//! lines, the block pipeline. Blocks of whole lines are read at their place in a plain
//! file by the threads that parse them, or filled in turn by a reader thread from a
//! compressed file or a stream; rayon parses and checks a batch of blocks while the batch
//! before goes to the sink. Memory is bounded by the blocks in flight, whatever the size
//! of the file. A format of JSON lines plugs in as a [`LineParser`].

use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::Range;

use anyhow::Result;
use rayon::prelude::*;

use super::intake::{raw_text, rejection, Intake, SourceFile};
use crate::audit::event::{AuditEvent, RecordError};
use crate::audit::model::Hit;
use crate::error::bad_input;
use crate::incidents::ingest::{Location, Rejection};

impl SourceFile {
    /// The file to read from: decompressed as it is read if gzipped.
    pub(super) fn open(&self) -> Result<Box<dyn Read + Send>> {
        // A stream opened to tell its format: the bytes read then come first.
        let pending = self
            .pending
            .as_ref()
            .and_then(|p| p.lock().ok().and_then(|mut p| p.take()));
        let f: Box<dyn Read + Send> = match pending {
            Some((head, rest)) => Box::new(std::io::Cursor::new(head).chain(rest)),
            None => Box::new(self.open_file()?),
        };
        Ok(if self.gzip {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 20,
                f,
            )))
        } else {
            Box::new(f)
        })
    }

    /// The file itself, as stored (compressed or not).
    pub(super) fn open_file(&self) -> Result<File> {
        File::open(&self.path).map_err(|e| self.cannot_read(e))
    }

    pub(super) fn cannot_read(&self, e: std::io::Error) -> anyhow::Error {
        bad_input(format!("cannot read {}: {e}", self.path.display()))
    }
}

/// Turns one line of a JSON-lines file into an event, appended to `out`; `false` for a
/// record to skip. Events are a few hundred bytes: built straight into the vector, none
/// is copied through a return value.
pub(super) trait LineParser: Sync {
    /// `line` is as read: not yet checked as UTF-8 (see [`line_text`]).
    fn parse_into<'b>(
        &self,
        line: &'b [u8],
        n: u64,
        out: &mut Vec<AuditEvent<'b>>,
    ) -> Result<bool, RecordError>;

    /// Reads the first line of `rest` (the rest of a block) if a fast path can, finding
    /// where it ends on the way (which saves a search for the line break): the line's
    /// length (up to its line break) once its event is added, or with why it was
    /// rejected (boxed: the answer fits in two registers). `None` for the caller to find
    /// the line and call `parse_into`. An event added here owns none of its text (see
    /// [`recycle`]).
    fn parse_first_line<'b>(
        &self,
        _rest: &'b [u8],
        _n: u64,
        _out: &mut Vec<AuditEvent<'b>>,
    ) -> Option<Result<usize, Box<(usize, RecordError)>>> {
        None
    }

    /// Checks on the raw record of the event `parse_into` just added (Sigma rules, which
    /// read fields the event does not keep); none by default.
    fn raw_hits<'b>(&self, _line: &'b [u8], _event: &AuditEvent<'b>, _out: &mut Vec<Hit<'b>>) {}
}

/// A line's text, or why it is not text. (The fast path for native lines takes ASCII
/// lines without this check.)
pub(super) fn line_text(line: &[u8]) -> Result<&str, RecordError> {
    match simdutf8::basic::from_utf8(line) {
        Ok(text) => Ok(text),
        // The standard library's error says where.
        Err(_) => std::str::from_utf8(line)
            .map_err(|e| RecordError::new("line", format!("not UTF-8 text: {e}"))),
    }
}

/// A block of whole lines, and whether it starts the file.
#[derive(Default)]
struct Block {
    bytes: Vec<u8>,
    /// Where the block's first line starts in `bytes` (a block read at its place in the
    /// file holds the end of the line before it).
    start: usize,
    first: bool,
    /// A line longer than `--max-record-bytes`, read past (its bytes are not held): its
    /// length, and whether a line break ended it.
    overlong: Option<(u64, bool)>,
}

/// Where a JSON-lines file's blocks come from.
enum BlockSource<'f> {
    /// A plain file: each block is read at its place in the file by the thread that
    /// parses it, so the bytes are in that core's cache when they are parsed, and no
    /// thread of its own competes with the parsing for the cores.
    Placed { file: &'f File, len: u64, next: u64 },
    /// A compressed file or a stream: a reader thread fills blocks of whole lines in
    /// turn.
    Stream {
        rx: std::sync::mpsc::Receiver<std::io::Result<Block>>,
        /// Buffers go back to the reader once their events are handed on: fresh buffers
        /// would cost a page fault per 4 KB.
        free_tx: std::sync::mpsc::Sender<Vec<u8>>,
    },
}

/// Reads into `block` the lines of `file` (`len` bytes long) that start in `range`: from
/// the first line start at or after `range.start` (a line starts there if the byte
/// before is a line break) to the line break that ends the last line starting before
/// `range.end`. A block with no line starting in its range is left empty.
fn read_block_at(
    file: &File,
    len: u64,
    range: Range<u64>,
    block: &mut Block,
) -> std::io::Result<()> {
    let from = range.start.saturating_sub(1);
    block.first = range.start == 0;
    block.start = 0;
    let buf = &mut block.bytes;
    // The range and a little more, which nearly always holds the end of its last line.
    read_at(file, from, (range.end + 4096).min(len) - from, buf, 0)?;
    let nominal_end = ((range.end - from) as usize).min(buf.len());
    if range.start > 0 {
        match memchr::memchr(b'\n', &buf[..nominal_end.saturating_sub(1)]) {
            Some(i) => block.start = i + 1,
            None => {
                buf.clear();
                return Ok(());
            }
        }
    }
    // The last line's end: the first line break at or after the range's last byte.
    let mut searched = nominal_end.saturating_sub(1);
    loop {
        if let Some(i) = memchr::memchr(b'\n', &buf[searched..]) {
            buf.truncate(searched + i + 1);
            return Ok(());
        }
        let at = from + buf.len() as u64;
        if at >= len {
            return Ok(());
        }
        searched = buf.len();
        // A long line: read on, in ever larger pieces.
        let more = (buf.len() as u64).max(4096).min(len - at);
        if read_at(file, at, more, buf, searched)? == 0 {
            return Ok(());
        }
    }
}

/// Reads up to `n` bytes of `file` from `offset` into `buf` from `old` on, and cuts `buf`
/// after them; fewer only at the end of the file (if it shrank since its length was
/// taken). Returns the bytes read. A recycled buffer keeps its length until then, so
/// only the bytes past its last block's end are zeroed first, not the whole block.
fn read_at(
    file: &File,
    offset: u64,
    n: u64,
    buf: &mut Vec<u8>,
    old: usize,
) -> std::io::Result<usize> {
    buf.resize(old + n as usize, 0);
    let mut filled = 0;
    while filled < n as usize {
        match read_at_offset(file, &mut buf[old + filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(old);
                return Err(e);
            }
        }
    }
    buf.truncate(old + filled);
    Ok(filled)
}

/// Bytes per block. Half a megabyte's events (about 1,400 at 370 bytes a line) are
/// checked while still in cache, and the blocks and event vectors in flight hold less
/// memory, all of which the kernel zeroes on first touch: with two batches in flight, at
/// 1 M events, 1 MB blocks peaked at 219 MiB and took 0.83 s, 512 KB blocks 191 MiB and
/// 0.74 s, 256 KB blocks 176 MiB and 0.74 s (medians of 11 interleaved runs).
const BLOCK_BYTES: usize = 1 << 19;
/// Blocks parsed at once: enough for every core, small enough to bound memory.
const BATCH_BLOCKS: usize = 8;

/// A reader that works on two pieces of input at once: while one piece is parsed and
/// checked, the piece before goes through the stateful policies. A piece's events borrow
/// from its slot, so each piece lives in one of two slots until it is handed on.
pub(super) trait TwoSlots {
    /// Where a piece's input is held (JSON-lines blocks, a Parquet slice's parts).
    type Slot: Default;
    /// A piece parsed and checked, borrowing from its slot.
    type Checked<'s>: Default
    where
        Self: 's;
    /// Refills `slot` with the next piece and parses and checks it, while `previous` goes
    /// to the intake; `None` once the input is done.
    fn step<'s>(
        &mut self,
        slot: &'s mut Self::Slot,
        previous: Self::Checked<'_>,
        intake: &mut Intake,
    ) -> Result<Option<Self::Checked<'s>>>;
}

/// Runs a [`TwoSlots`] reader to the end of its input, the slots taking turns.
pub(super) fn in_two_slots<R: TwoSlots>(reader: &mut R, intake: &mut Intake) -> Result<()> {
    let (mut even, mut odd) = (R::Slot::default(), R::Slot::default());
    let mut checked_odd = R::Checked::default();
    loop {
        let Some(checked_even) = reader.step(&mut even, checked_odd, intake)? else {
            return Ok(());
        };
        let Some(checked) = reader.step(&mut odd, checked_even, intake)? else {
            return Ok(());
        };
        checked_odd = checked;
    }
}

/// Reads JSON lines: rayon parses and checks a batch of blocks of whole lines at once,
/// and the sink sees each block's events in order, the batch before being handed on
/// while the next is parsed. Memory is bounded by the two batches. A plain file's
/// blocks are read by the threads that parse them, at their places in the file; a
/// compressed file's or a stream's are filled in turn by a reader thread. (The hand-on
/// is one more rayon task beside the parsing, so the cores share it: on a thread of its
/// own, as measured in an earlier version, it was no faster on two cores. Reading the
/// blocks on the parsing threads, with the loop on a thread of the pool, took 0.94 of
/// the wall time of a reader thread, paired runs at 10 M events.)
pub(super) fn read_lines<P: LineParser>(
    file: &SourceFile,
    name: &str,
    parser: &P,
    intake: &mut Intake,
) -> Result<()> {
    let plain = plain_file(file)?;
    let (source, reader) = match &plain {
        Some((plain, len)) => {
            let source = BlockSource::Placed {
                file: plain,
                len: *len,
                next: 0,
            };
            (source, None)
        }
        None => {
            let (source, reader) = spawn_reader(file.open()?, intake.max_record_bytes);
            (source, Some(reader))
        }
    };
    let mut lines = LinePipeline {
        source,
        name,
        parser,
        pool: Vec::new(),
        next_line: 1,
        consumed: 0,
    };
    // Two batches in flight: while one is handed to the sink, the next is parsed and
    // checked. With blocks read where they are parsed, the reading loop runs on a thread
    // of the pool too: the threads hand work to each other without waking one outside.
    let outcome = match reader {
        None => rayon::scope(|_| in_two_slots(&mut lines, intake)),
        Some(_) => in_two_slots(&mut lines, intake),
    };
    // Stops the reader if it is still going (a read error or --strict ended early).
    drop(lines);
    if let Some(reader) = reader {
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("reader thread for {name} failed"))?;
    }
    outcome
}

/// Starts a reader thread that fills blocks of whole lines from `input` in turn:
/// the blocks' source (emptied buffers go back to the thread through it), and the thread.
/// A line longer than a block grows its buffer by doubling and is searched for its end
/// only in the bytes new each time (linear in its length); a line longer than `max` is
/// not held whole: it is read past and sent as a block of its own marked over-long.
fn spawn_reader(
    mut input: Box<dyn Read + Send>,
    max: usize,
) -> (BlockSource<'static>, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Block>>(BATCH_BLOCKS);
    let (free_tx, free_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut carry: Vec<u8> = Vec::new();
        let mut first = true;
        loop {
            let mut buf = free_rx
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BLOCK_BYTES + 4096));
            // A recycled buffer still holds its last block: growing it back to size zeroes
            // only the few bytes past that block's end, not two megabytes each time.
            let start = carry.len();
            buf.resize(start + BLOCK_BYTES, 0);
            buf[..start].copy_from_slice(&carry);
            carry.clear();
            let mut filled = start;
            // The carried bytes (after the last line break) hold no line break.
            let mut searched = start;
            let mut eof;
            let mut overlong = None;
            loop {
                match fill(&mut input, &mut buf, &mut filled) {
                    Ok(at_end) => eof = at_end,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
                buf.truncate(filled);
                if eof {
                    if buf.len() > max && memchr::memchr(b'\n', &buf[searched..]).is_none() {
                        overlong = Some((buf.len() as u64, false));
                    }
                    break;
                }
                if let Some(i) = memchr::memrchr(b'\n', &buf[searched..]) {
                    let i = searched + i;
                    carry.extend_from_slice(&buf[i + 1..]);
                    buf.truncate(i + 1);
                    break;
                }
                // One line longer than a block: read on, the buffer doubling.
                if buf.len() > max {
                    match skip_line(&mut input, buf.len() as u64, &mut carry) {
                        Ok((len, ended)) => {
                            overlong = Some((len, ended));
                            eof = !ended;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                    break;
                }
                searched = buf.len();
                buf.resize(buf.len() * 2, 0);
            }
            if overlong.is_some() {
                buf.clear();
            }
            let block = Block {
                bytes: buf,
                start: 0,
                first,
                overlong,
            };
            first = false;
            if tx.send(Ok(block)).is_err() || eof {
                return;
            }
        }
    });
    (BlockSource::Stream { rx, free_tx }, reader)
}

/// Reads into `buf` from `filled` to its length; whether the input ended first.
fn fill(input: &mut dyn Read, buf: &mut [u8], filled: &mut usize) -> std::io::Result<bool> {
    while *filled < buf.len() {
        match input.read(&mut buf[*filled..]) {
            Ok(0) => return Ok(true),
            Ok(k) => *filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Reads past the rest of an over-long line (`so_far` bytes of it read), keeping what
/// follows its line break in `carry`: the line's length, and whether a line break ended
/// it (else the input did).
fn skip_line(
    input: &mut dyn Read,
    mut so_far: u64,
    carry: &mut Vec<u8>,
) -> std::io::Result<(u64, bool)> {
    let mut scratch = vec![0u8; 1 << 16];
    loop {
        let k = match input.read(&mut scratch) {
            Ok(0) => return Ok((so_far, false)),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(i) = memchr::memchr(b'\n', &scratch[..k]) {
            carry.extend_from_slice(&scratch[i + 1..k]);
            return Ok((so_far + i as u64, true));
        }
        so_far += k as u64;
    }
}

#[cfg(unix)]
fn read_at_offset(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// Elsewhere files are read by the reader thread (see [`plain_file`]).
#[cfg(not(unix))]
fn read_at_offset(_: &File, _: &mut [u8], _: u64) -> std::io::Result<usize> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// An uncompressed regular file, opened, with its length then; `None` for anything else
/// (a FIFO is not opened here, so it is opened once only). Lines appended while the
/// file is read are not read.
fn plain_file(file: &SourceFile) -> Result<Option<(File, u64)>> {
    let regular = std::fs::metadata(&file.path).is_ok_and(|m| m.is_file());
    // Reading at a place in a file without moving its cursor is a Unix call.
    if file.gzip || !regular || !cfg!(unix) {
        return Ok(None);
    }
    let f = file.open_file()?;
    let len = f.metadata().map_err(|e| file.cannot_read(e))?.len();
    Ok(Some((f, len)))
}

/// A batch's blocks parsed and checked: their events (lines numbered from each block's
/// first), with what the checks found.
type ParsedBatch<'b> = Vec<(Parsed<'b>, Vec<Hit<'b>>)>;

/// The reading loop's state between batches.
struct LinePipeline<'n, 'p, P> {
    source: BlockSource<'n>,
    name: &'n str,
    parser: &'p P,
    /// Event vectors go back to a pool too: each holds megabytes, and a fresh one would
    /// be zeroed by the kernel page by page.
    pool: Vec<Vec<AuditEvent<'static>>>,
    next_line: u64,
    consumed: u64,
}

impl<P: LineParser> TwoSlots for LinePipeline<'_, '_, P> {
    type Slot = Vec<Block>;
    type Checked<'b>
        = ParsedBatch<'b>
    where
        Self: 'b;

    /// Refills `blocks` with the next batch, then parses and checks it in parallel while
    /// the previous batch's events go to the sink (which takes them one block at a time,
    /// in order, on one thread). `None` once the file is done.
    fn step<'b>(
        &mut self,
        blocks: &'b mut Vec<Block>,
        previous: ParsedBatch<'_>,
        intake: &mut Intake,
    ) -> Result<Option<ParsedBatch<'b>>> {
        // The next batch's blocks: where each is to be read, or as the reader sent them.
        // With the file to read them from, for blocks read here.
        let mut places = Vec::with_capacity(BATCH_BLOCKS);
        let mut failed = None;
        let placed = match &mut self.source {
            BlockSource::Placed { file, len, next } => {
                while places.len() < BATCH_BLOCKS && *next < *len {
                    let end = (*next + BLOCK_BYTES as u64).min(*len);
                    places.push(Some(*next..end));
                    *next = end;
                }
                // Each slot keeps its buffers for its next batch.
                blocks.truncate(places.len());
                blocks.resize_with(places.len(), Block::default);
                Some((*file, *len))
            }
            BlockSource::Stream { rx, free_tx } => {
                for block in blocks.drain(..) {
                    let _ = free_tx.send(block.bytes);
                }
                while blocks.len() < BATCH_BLOCKS {
                    match rx.recv() {
                        Ok(Ok(b)) => blocks.push(b),
                        Ok(Err(e)) => {
                            failed = Some(bad_input(format!("cannot read {}: {e}", self.name)));
                            break;
                        }
                        Err(_) => break,
                    }
                }
                places.resize(blocks.len(), None);
                None
            }
        };
        let spare: Vec<_> = blocks
            .iter()
            .map(|_| self.pool.pop().unwrap_or_default())
            .collect();
        let (name, parser, checker) = (self.name, self.parser, intake.checker);
        let max = intake.max_record_bytes;
        let (handed, parsed) = rayon::join(
            || self.hand_on(previous, intake),
            || {
                // Each block is read (if read here) and its events checked as soon as
                // they are parsed, in cache.
                blocks
                    .par_iter_mut()
                    .zip(places)
                    .zip(spare)
                    .map(|((block, place), spare)| {
                        if let (Some(range), Some((file, len))) = (place, placed) {
                            read_block_at(file, len, range, block)
                                .map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
                        }
                        let block: &'b Block = block;
                        if let Some(long) = block.overlong {
                            return Ok((
                                overlong(name, long, max, recycle(spare, false)),
                                Vec::new(),
                            ));
                        }
                        let mut parsed = parse_block(block, name, parser, recycle(spare, false));
                        let mut hits = checker.check(&parsed.events);
                        hits.append(&mut parsed.raw_hits);
                        Ok((parsed, hits))
                    })
                    .collect::<Result<ParsedBatch>>()
            },
        );
        let parsed = parsed?;
        handed?;
        if let Some(e) = failed {
            return Err(e);
        }
        Ok((!parsed.is_empty()).then_some(parsed))
    }
}

impl<P: LineParser> LinePipeline<'_, '_, P> {
    /// Gives a parsed batch's lines their place in the file, and its events and
    /// rejections to the intake, block by block in order.
    fn hand_on(&mut self, batch: ParsedBatch<'_>, intake: &mut Intake) -> Result<()> {
        for (parsed, mut hits) in batch {
            let Parsed {
                mut events,
                mut rejects,
                read,
                skipped,
                newlines,
                bytes,
                borrowed_only,
                raw_hits: _,
            } = parsed;
            // Blocks number their lines from 1 (counted as they are parsed, not before
            // on the reading thread); here they get their place in the file.
            let before = self.next_line - 1;
            for e in &mut events {
                e.line += before;
            }
            for h in &mut hits {
                h.move_down(before);
            }
            for r in &mut rejects {
                if let Location::Line(n) = &mut r.location {
                    *n += before;
                }
            }
            self.next_line += newlines;
            intake.summary.read += read;
            intake.summary.skipped += skipped;
            let taken = intake.take(&events, hits, rejects);
            self.pool.push(recycle(events, borrowed_only));
            taken?;
            self.consumed += bytes as u64;
            intake.sink.progress(self.consumed);
        }
        Ok(())
    }
}

/// An emptied vector of events, its allocation kept, for events borrowing from another
/// block. (Collecting an empty vector's iterator into a vector of a type of the same
/// layout reuses the allocation; were it not reused, the result would still be correct.)
/// With `borrowed_only` (no event owns any of its text: all of it borrows from the
/// block), the events are let go without being dropped one by one: dropping looked at
/// each of their twelve texts, a percent of an audit of JSON lines.
fn recycle<'a>(mut events: Vec<AuditEvent<'_>>, borrowed_only: bool) -> Vec<AuditEvent<'a>> {
    if borrowed_only {
        debug_assert!(events.iter().all(AuditEvent::owns_nothing));
        // SAFETY: no element is left, so the length is valid. Not dropping the events
        // can only leak text they own, and they own none.
        unsafe { events.set_len(0) };
    }
    events.clear();
    events.into_iter().map(|_| unreachable!()).collect()
}

/// A block's records: its events and rejections (lines numbered from the block's first),
/// the records read and skipped, and the line ends it held.
struct Parsed<'b> {
    events: Vec<AuditEvent<'b>>,
    /// Every event was read by the fast path, so borrows all its text (see [`recycle`]).
    borrowed_only: bool,
    rejects: Vec<Rejection>,
    read: u64,
    skipped: u64,
    newlines: u64,
    /// The block's length in bytes.
    bytes: usize,
    /// What [`LineParser::raw_hits`] found.
    raw_hits: Vec<Hit<'b>>,
}

/// A line longer than `max`, as one record rejected (the first of its block).
fn overlong<'b>(
    name: &str,
    (len, ended): (u64, bool),
    max: usize,
    events: Vec<AuditEvent<'b>>,
) -> Parsed<'b> {
    let err = RecordError::new(
        "line",
        format!("record of {len} bytes is longer than {max} (--max-record-bytes): not read"),
    );
    Parsed {
        events,
        borrowed_only: true,
        rejects: vec![rejection(name, Location::Line(1), err, String::new())],
        read: 1,
        skipped: 0,
        newlines: ended as u64,
        bytes: 0,
        raw_hits: Vec::new(),
    }
}

/// Where the next line starts, after the line break at `end` (`\n` or `\r\n`); past the
/// end of `bytes` (its length and one) if no line break is there.
#[inline]
fn after_break(bytes: &[u8], end: usize) -> usize {
    match bytes.get(end..) {
        Some([b'\n', ..]) => end + 1,
        Some([b'\r', b'\n', ..]) => end + 2,
        _ => bytes.len() + 1,
    }
}

fn parse_block<'b, P: LineParser>(
    block: &'b Block,
    name: &str,
    parser: &P,
    mut events: Vec<AuditEvent<'b>>,
) -> Parsed<'b> {
    events.reserve((block.bytes.len() - block.start) / 256);
    let mut rejects = Vec::new();
    let mut raw_hits = Vec::new();
    let (mut read, mut skipped) = (0u64, 0u64);
    // A byte-order mark at the start of the file is not part of the first record.
    let mut start = block.start;
    if block.first && block.bytes[start..].starts_with(b"\xEF\xBB\xBF") {
        start += 3;
    }
    let bytes = &block.bytes[..];
    let mut newlines = 0;
    let mut borrowed_only = true;
    for line_no in 1.. {
        let rest = &bytes[start..];
        // The fast path reads the line and finds its end; otherwise the line is found by
        // its line break first.
        let (end, outcome) = match parser.parse_first_line(rest, line_no, &mut events) {
            Some(Ok(len)) => {
                read += 1;
                start = after_break(bytes, start + len);
                if start > bytes.len() {
                    break;
                }
                newlines += 1;
                continue;
            }
            Some(Err(rejected)) => {
                let (len, err) = *rejected;
                (start + len, Some(Err(err)))
            }
            None => (
                memchr::memchr(b'\n', rest).map_or(bytes.len(), |k| start + k),
                None,
            ),
        };
        // The line, without its line break; and where the next starts.
        let raw = &bytes[start..end];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        start = after_break(bytes, end);
        if start <= bytes.len() {
            newlines += 1;
        }
        let outcome = match outcome {
            Some(outcome) => outcome,
            None if raw.iter().all(u8::is_ascii_whitespace) => {
                if start > bytes.len() {
                    break;
                }
                continue;
            }
            None => {
                borrowed_only = false;
                let outcome = parser.parse_into(raw, line_no, &mut events);
                if let (Ok(true), Some(e)) = (&outcome, events.last()) {
                    parser.raw_hits(raw, e, &mut raw_hits);
                }
                outcome
            }
        };
        read += 1;
        match outcome {
            Ok(true) => {}
            Ok(false) => skipped += 1,
            Err(err) => rejects.push(rejection(name, Location::Line(line_no), err, raw_text(raw))),
        }
        if start > bytes.len() {
            break;
        }
    }
    Parsed {
        events,
        borrowed_only,
        rejects,
        read,
        skipped,
        newlines,
        bytes: block.bytes.len() - block.start,
        raw_hits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::sources::native::NativeLines;

    #[cfg(unix)]
    #[test]
    fn blocks_read_at_their_place_hold_each_line_once_and_whole() {
        use std::io::Write;
        let long = "x".repeat(100);
        let texts = [
            "a\nbb\nccc\n".to_string(),
            "a\r\nbb\r\n\r\nccc".to_string(),
            format!("1\n{long}\n22\n{long}{long}\n333\n\n\n4"),
            "\n".to_string(),
            "no line break".to_string(),
            "\u{feff}{}\n{}\n".to_string(),
        ];
        for text in &texts {
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(text.as_bytes()).unwrap();
            let len = text.len() as u64;
            for size in [1u64, 2, 3, 7, 16, 64, 1000] {
                let mut whole = Vec::new();
                let mut block = Block::default();
                let mut at = 0;
                while at < len {
                    let range_end = (at + size).min(len);
                    read_block_at(&f, len, at..range_end, &mut block).unwrap();
                    let lines = &block.bytes[block.start..];
                    assert_eq!(block.first, at == 0);
                    // Whole lines: starting where a line starts, ending at a line break
                    // or at the end of the file.
                    let start = at as usize - (at > 0) as usize + block.start;
                    if !lines.is_empty() {
                        assert!(start == 0 || text.as_bytes()[start - 1] == b'\n');
                        let end = start + lines.len();
                        assert!(end == text.len() || text.as_bytes()[end - 1] == b'\n');
                        // It starts in its range.
                        assert!((at..range_end).contains(&(start as u64)), "{text:?} {size}");
                    }
                    whole.extend_from_slice(lines);
                    at = range_end;
                }
                assert_eq!(String::from_utf8(whole).unwrap(), *text, "blocks of {size}");
            }
        }
    }

    #[test]
    fn a_recycled_event_vector_keeps_its_allocation() {
        let mut events: Vec<AuditEvent<'_>> = Vec::with_capacity(1000);
        let line = r#"{"timestamp":"2026-11-03T09:14:00Z","actor":"a","actor_type":"human","action":"x","operation":"read","resource":"r","environment":"dev"}"#;
        let parser = NativeLines::new(chrono_tz::Europe::London, 0);
        assert!(parser.parse_into(line.as_bytes(), 1, &mut events).unwrap());
        assert_eq!(&*events[0].actor, "a");
        let again: Vec<AuditEvent<'_>> = recycle(events, false);
        assert!(
            again.is_empty() && again.capacity() >= 1000,
            "{}",
            again.capacity()
        );
    }

    #[test]
    fn events_let_go_undropped_own_no_text() {
        let parser = NativeLines::new(chrono_tz::Europe::London, 0);
        let fast = r#"{"timestamp":"2026-11-03T09:14:00Z","actor":"a","actor_type":"human","action":"x","operation":"read","resource":"r","environment":"dev"}"#;
        let escaped = fast.replace(r#""a""#, r#""a\"b""#);
        // The lines; whether the block's events all borrow their text, as the fast path
        // reads them; whether one owns some (an escape read by serde_json).
        for (lines, borrowed_only, owns_some) in [
            (vec![fast; 3], true, false),
            (vec![fast, &escaped, fast], false, true),
            (vec![fast, "", " {bad"], false, false),
        ] {
            let block = Block {
                bytes: (lines.join("\r\n") + "\n").into_bytes(),
                start: 0,
                first: true,
                overlong: None,
            };
            let parsed = parse_block(&block, "t.jsonl", &parser, Vec::new());
            assert_eq!(parsed.borrowed_only, borrowed_only, "{lines:?}");
            if parsed.borrowed_only {
                assert!(parsed.events.iter().all(AuditEvent::owns_nothing));
            }
            let owned = parsed.events.iter().any(|e| !e.owns_nothing());
            assert_eq!(owned, owns_some, "{lines:?}");
            let again: Vec<AuditEvent<'_>> = recycle(parsed.events, parsed.borrowed_only);
            assert!(again.is_empty());
        }
    }
}
