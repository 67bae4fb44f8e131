//! Reading incident files. Nothing else in regwatch reads input files.
//!
//! Every row ends up either accepted or rejected with its file, line (or record), field and
//! reason: `read == accepted + rejected`, always. In strict mode the first rejection fails the
//! run instead.

use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use anyhow::{Context, Result};
use chrono_tz::Tz;
use serde::Serialize;

use crate::error::bad_input;
use crate::incidents::record::{build, Built, Column, FieldError, Incident, REQUIRED_COLUMNS};

/// How an incident file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Csv,
    /// A JSON array of objects, or JSON lines if the file starts with `{`.
    Json,
    /// One JSON object per line.
    Jsonl,
}

impl InputFormat {
    /// Chooses by extension: `.csv`, `.json`, `.jsonl` / `.ndjson`.
    pub fn from_path(path: &Path) -> Option<InputFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(InputFormat::Csv),
            "json" => Some(InputFormat::Json),
            "jsonl" | "ndjson" => Some(InputFormat::Jsonl),
            _ => None,
        }
    }
}

/// Where in a file a record sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Line(u64),
    Record(u64),
    /// The file as a whole (it, or the rest of it, could not be read).
    File,
    /// Somewhere in the file: the engine that read it does not say where (Spark).
    Unknown,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Record(n) => write!(f, "record {n}"),
            Location::File => write!(f, "(whole file)"),
            Location::Unknown => write!(f, "(place not known)"),
        }
    }
}

/// A row that was not accepted, and why; or, in `IngestReport::problems`, a field of a
/// row that was kept without it.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub file: String,
    pub location: Location,
    /// The row's id, when it had a readable one.
    pub id: String,
    pub field: String,
    pub reason: String,
    /// The row as it was in the file.
    pub raw: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}, field {}: {}",
            self.file, self.location, self.field, self.reason
        )
    }
}

/// What reading one file came to.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub file: String,
    pub read: u64,
    pub accepted: u64,
    pub rejected: Vec<Rejection>,
    /// Problems in rows that were accepted: each field that could not be used, with the
    /// safe reading taken instead. A row can have several.
    pub problems: Vec<Rejection>,
}

impl IngestReport {
    pub fn rejected_count(&self) -> u64 {
        self.rejected.len() as u64
    }

    /// Accepted rows with at least one problem.
    pub fn with_problems(&self) -> u64 {
        let mut n = 0;
        let mut last = None;
        for p in &self.problems {
            if last != Some(p.location) {
                n += 1;
                last = Some(p.location);
            }
        }
        n
    }
}

/// Options for reading incidents.
pub struct IngestOptions<'a> {
    pub format: Option<InputFormat>,
    pub strict: bool,
    /// Zone for timestamps written without an offset.
    pub input_tz: Tz,
    /// A further check on each built incident (for example that its services exist): it
    /// adds problems; the incident is kept.
    pub check: &'a (dyn Fn(&Incident, &mut Vec<FieldError>) + Sync),
}

/// Reads one incident file.
pub fn read_incidents(path: &Path, opts: &IngestOptions) -> Result<(Vec<Incident>, IngestReport)> {
    let name = path.display().to_string();
    let format = match opts.format.or_else(|| InputFormat::from_path(path)) {
        Some(f) => f,
        None => {
            return Err(bad_input(format!(
                "{name}: cannot tell the format from the extension; pass --format csv|json|jsonl"
            )))
        }
    };
    let empty = || {
        bad_input(format!(
            "{name}: the file is empty (no header row, no records)"
        ))
    };
    let mut sink = Sink::new(name.clone(), opts);
    if format == InputFormat::Csv {
        // Streamed: a large CSV file is never held in memory whole.
        let file = std::fs::File::open(path)
            .map_err(|e| bad_input(format!("{name}: cannot read: {e}")))?;
        let mut rdr = std::io::BufReader::with_capacity(1 << 20, file);
        let head = rdr
            .fill_buf()
            .map_err(|e| bad_input(format!("{name}: cannot read: {e}")))?;
        if head.starts_with(b"\xEF\xBB\xBF") {
            rdr.consume(3);
        }
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let bom = if head_has_bom(path) { 3 } else { 0 };
        read_csv(rdr, size, (path, bom), &mut sink, &empty)?;
        return Ok(sink.finish());
    }
    let bytes = std::fs::read(path).map_err(|e| bad_input(format!("{name}: cannot read: {e}")))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(empty());
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if format == InputFormat::Json && first == Some(b'[') {
        read_json_array(bytes, &mut sink)?
    } else {
        read_json_lines(bytes, &mut sink)?
    }
    Ok(sink.finish())
}

/// Collects accepted incidents and rejections, and enforces unique ids.
struct Sink<'a> {
    file: String,
    opts: &'a IngestOptions<'a>,
    incidents: Vec<Incident>,
    rejected: Vec<Rejection>,
    problems: Vec<Rejection>,
    seen: FxHashMap<Arc<str>, Location>,
    read: u64,
}

impl<'a> Sink<'a> {
    fn new(file: String, opts: &'a IngestOptions<'a>) -> Sink<'a> {
        Sink {
            file,
            opts,
            incidents: Vec::new(),
            rejected: Vec::new(),
            problems: Vec::new(),
            seen: FxHashMap::default(),
            read: 0,
        }
    }

    /// Takes one row's outcome. In strict mode a rejection, or a problem, is the run's
    /// error.
    fn take(
        &mut self,
        loc: Location,
        built: Built,
        id_hint: &str,
        raw: impl FnOnce() -> String,
    ) -> Result<()> {
        self.read += 1;
        let err = match built {
            Ok((inc, mut problems)) => match self.seen.entry(inc.id.clone()) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    (self.opts.check)(&inc, &mut problems);
                    if !problems.is_empty() {
                        let raw = raw();
                        for p in problems {
                            let r = Rejection {
                                file: self.file.clone(),
                                location: loc,
                                id: inc.id.to_string(),
                                field: p.field,
                                reason: p.reason,
                                raw: raw.clone(),
                            };
                            if self.opts.strict {
                                return Err(bad_input(format!(
                                    "{r} (strict mode: the run stops at the first bad row)"
                                )));
                            }
                            self.problems.push(r);
                        }
                    }
                    slot.insert(loc);
                    self.incidents.push(inc);
                    return Ok(());
                }
                std::collections::hash_map::Entry::Occupied(first) => FieldError {
                    field: "id".into(),
                    reason: format!("duplicate id {:?} (first at {})", inc.id, first.get()),
                },
            },
            Err(e) => e,
        };
        self.reject(loc, err, id_hint, raw())
    }

    fn reject(&mut self, loc: Location, err: FieldError, id: &str, raw: String) -> Result<()> {
        let r = Rejection {
            file: self.file.clone(),
            location: loc,
            id: id.to_string(),
            field: err.field,
            reason: err.reason,
            raw,
        };
        if self.opts.strict {
            return Err(bad_input(format!(
                "{r} (strict mode: the run stops at the first bad row)"
            )));
        }
        self.rejected.push(r);
        Ok(())
    }

    /// Makes room for about `n` more incidents, so a large file does not pay for growth.
    fn reserve(&mut self, n: usize) {
        self.incidents.reserve(n);
        self.seen.reserve(n);
    }

    fn finish(self) -> (Vec<Incident>, IngestReport) {
        let report = IngestReport {
            file: self.file,
            read: self.read,
            accepted: self.incidents.len() as u64,
            rejected: self.rejected,
            problems: self.problems,
        };
        (self.incidents, report)
    }
}

/// Whether the file starts with a UTF-8 byte order mark.
fn head_has_bom(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 3];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == *b"\xEF\xBB\xBF"
}

/// A record with a stray quote, split back into the lines it swallowed.
struct Runaway {
    /// The record's first line, read on its own: the row that is rejected.
    first: csv::StringRecord,
    /// Each following line, read as a row of its own (blank lines left out).
    rows: Vec<csv::StringRecord>,
    field: String,
    /// The last line it ran to, and whether that is the end of the file.
    last_line: u64,
}

/// Whether `record` is a quoted value that never closed and ran on over the rows after it:
/// a value holding a line break, in a record with the wrong number of fields or with a
/// following line that reads as a whole row by itself. If so, the raw lines are read again
/// from the file (`source`: its path and the BOM's length) one by one.
fn runaway(
    record: &csv::StringRecord,
    names: &[String],
    source: (&Path, u64),
    end: u64,
) -> Option<Runaway> {
    let ncols = names.len();
    let col = record.iter().position(|f| f.contains('\n'))?;
    let one_line = |line: &str| -> Option<csv::StringRecord> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(line.as_bytes());
        let mut rec = csv::StringRecord::new();
        r.read_record(&mut rec).ok()?;
        Some(rec)
    };
    let looks_like_rows = record.len() != ncols
        || record.iter().any(|f| {
            f.split('\n')
                .skip(1)
                .any(|l| one_line(l.trim_end_matches('\r')).is_some_and(|r| r.len() == ncols))
        });
    if !looks_like_rows {
        return None;
    }
    let pos = record.position()?;
    let (start, line) = (pos.byte(), pos.line());
    let bytes = {
        use std::io::{Read, Seek};
        let mut f = std::fs::File::open(source.0).ok()?;
        f.seek(std::io::SeekFrom::Start(start + source.1)).ok()?;
        let mut buf = vec![0; end.checked_sub(start)? as usize];
        f.read_exact(&mut buf).ok()?;
        buf
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let mut first = one_line(lines.next()?)?;
    first.set_position(Some(pos.clone()));
    let mut rows = Vec::new();
    let mut last_line = line;
    for (k, l) in lines.enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let n = line + 1 + k as u64;
        last_line = n;
        if let Some(mut rec) = one_line(l) {
            let mut p = csv::Position::new();
            p.set_line(n);
            rec.set_position(Some(p));
            rows.push(rec);
        }
    }
    Some(Runaway {
        first,
        rows,
        field: names.get(col).cloned().unwrap_or_else(|| "(row)".into()),
        last_line,
    })
}

/// Watches the bytes the CSV reader takes for the file's first line break. When lines end
/// with CR LF (Windows, Excel), the reader stops each record at the CR and starts the next
/// on the LF, one line early: each record's position is moved past that LF, so a problem
/// names the line the row is on.
struct LineEndProbe<'a, R> {
    inner: R,
    last: u8,
    crlf: &'a AtomicU8,
}

const LINE_END_UNKNOWN: u8 = 0;
const LINE_END_LF: u8 = 1;
const LINE_END_CRLF: u8 = 2;

impl<R: std::io::Read> std::io::Read for LineEndProbe<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 && self.crlf.load(Ordering::Relaxed) == LINE_END_UNKNOWN {
            match memchr::memchr(b'\n', &buf[..n]) {
                Some(i) => {
                    let before = if i > 0 { buf[i - 1] } else { self.last };
                    let kind = if before == b'\r' {
                        LINE_END_CRLF
                    } else {
                        LINE_END_LF
                    };
                    self.crlf.store(kind, Ordering::Relaxed);
                }
                None => self.last = buf[n - 1],
            }
        }
        Ok(n)
    }
}

/// Moves a record read from a CR LF file past the LF it starts on (see `LineEndProbe`).
fn past_line_feed(record: &mut csv::StringRecord) {
    if let Some(p) = record.position() {
        let mut p = p.clone();
        let (line, byte) = (p.line(), p.byte());
        p.set_line(line + 1).set_byte(byte + 1);
        record.set_position(Some(p));
    }
}

fn read_csv(
    input: impl std::io::Read + Send,
    size: u64,
    source: (&Path, u64),
    sink: &mut Sink,
    empty: &dyn Fn() -> anyhow::Error,
) -> Result<()> {
    let file = sink.file.clone();
    let line_end = AtomicU8::new(LINE_END_UNKNOWN);
    let crlf = || line_end.load(Ordering::Relaxed) == LINE_END_CRLF;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .buffer_capacity(1 << 16)
        .from_reader(LineEndProbe {
            inner: input,
            last: 0,
            crlf: &line_end,
        });
    let headers = rdr
        .headers()
        .map_err(|e| bad_input(format!("{file} line 1: the header row cannot be read: {e}")))?
        .clone();
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(empty());
    }
    let names: Vec<String> = headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|c| !names.iter().any(|n| n == c))
        .collect();
    if !missing.is_empty() {
        return Err(bad_input(format!(
            "{file} line 1: missing required column(s) {} (the header has: {})",
            missing.join(", "),
            names.join(", ")
        )));
    }
    // A set, not a search of the columns before each: a file with 100,000 columns must not
    // take 10^10 comparisons.
    let mut distinct: rustc_hash::FxHashSet<&str> = rustc_hash::FxHashSet::default();
    if let Some(dup) = names.iter().find(|n| !distinct.insert(n.as_str())) {
        return Err(bad_input(format!(
            "{file} line 1: column {dup:?} appears twice"
        )));
    }
    let columns: Vec<Column> = names.iter().map(|n| Column::for_name(n)).collect();
    let id_col = names.iter().position(|n| n == "id");
    let tz = sink.opts.input_tz;
    // One thread reads records in batches while the others build (parse and validate)
    // the previous batch in parallel; batches are then taken in order so ids, lines and
    // counts come out as in the file.
    const BATCH: usize = 8192;
    struct Batch {
        records: Vec<csv::StringRecord>,
        filled: usize,
        /// A record that could not be read, after the filled ones.
        failure: Option<(u64, csv::Error)>,
        /// Bytes of the file read so far.
        offset: u64,
        /// Records rejected for a stray quote (by position in the batch), with the reason.
        notes: Vec<(usize, FieldError)>,
    }
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Batch>(2);
    let (free_tx, free_rx) = std::sync::mpsc::channel::<Vec<csv::StringRecord>>();
    let names = &names;
    std::thread::scope(|scope| -> Result<()> {
        // Owned here, so an early return drops it and the reader stops instead of waiting.
        let full_rx = full_rx;
        scope.spawn(move || {
            loop {
                let mut records = free_rx.try_recv().unwrap_or_default();
                let mut filled = 0;
                let mut failure = None;
                let mut notes = Vec::new();
                let mut last = false;
                while filled < BATCH {
                    if records.len() == filled {
                        records.push(csv::StringRecord::new());
                    }
                    let line = rdr.position().line() + u64::from(crlf());
                    match rdr.read_record(&mut records[filled]) {
                        Ok(false) => {
                            last = true;
                            break;
                        }
                        Ok(true) => {
                            if crlf() {
                                past_line_feed(&mut records[filled]);
                            }
                            let r = &records[filled];
                            // A blank line between records is not a record.
                            if r.len() == 1 && r.get(0).is_some_and(|f| f.trim().is_empty()) {
                                continue;
                            }
                            let end = rdr.position().byte();
                            let Some(run) = runaway(r, names, source, end) else {
                                filled += 1;
                                continue;
                            };
                            // A stray quote: the row is rejected, and each line it swallowed
                            // is read as the row it is.
                            let at_end = rdr.is_done() || end + source.1 >= size;
                            let first = run.first.position().map_or(0, |p| p.line());
                            let reason = format!(
                                "has a quote that is never closed: the value ran on over lines {} to {}{}; this row is rejected and those lines are read as rows of their own",
                                first + 1,
                                run.last_line,
                                if at_end { " (the end of the file)" } else { "" }
                            );
                            notes.push((
                                filled,
                                FieldError {
                                    field: run.field,
                                    reason,
                                },
                            ));
                            records[filled] = run.first;
                            filled += 1;
                            for rec in run.rows {
                                if records.len() == filled {
                                    records.push(rec);
                                } else {
                                    records[filled] = rec;
                                }
                                filled += 1;
                            }
                        }
                        Err(e) => {
                            last = !matches!(e.kind(), csv::ErrorKind::Utf8 { .. });
                            failure = Some((line, e));
                            break;
                        }
                    }
                }
                let batch = Batch {
                    records,
                    filled,
                    failure,
                    offset: rdr.position().byte(),
                    notes,
                };
                if full_tx.send(batch).is_err() || last {
                    return;
                }
            }
        });
        let build_all = |rows: &[csv::StringRecord], notes: &[(usize, FieldError)]| -> Vec<Built> {
            rows.par_iter()
                .enumerate()
                .map(|(i, record)| {
                    let line = record.position().map_or(0, |p| p.line());
                    if let Some((_, note)) = notes.iter().find(|(n, _)| *n == i) {
                        Err(note.clone())
                    } else if record.len() != columns.len() {
                        Err(FieldError {
                            field: "(row)".into(),
                            reason: format!(
                                "has {} fields but the header has {}",
                                record.len(),
                                columns.len()
                            ),
                        })
                    } else {
                        build(columns.iter().zip(record.iter()), line, tz)
                    }
                })
                .collect()
        };
        // Takes a built batch in file order (ids, counts, quarantine), then hands its
        // records back to the reader.
        let take_all = |sink: &mut Sink, batch: Batch, built: Vec<Built>| -> Result<()> {
            let rows = &batch.records[..batch.filled];
            for (record, b) in rows.iter().zip(built) {
                let line = record.position().map_or(0, |p| p.line());
                let id = id_col.and_then(|i| record.get(i)).unwrap_or("").trim();
                sink.take(Location::Line(line), b, id, || csv_line(record))?;
            }
            if let Some((line, e)) = batch.failure {
                // Bad UTF-8 is one rejected row and reading goes on; a broken quote ends it.
                let line = e
                    .position()
                    .map_or(line + 1, |p| p.line() + u64::from(crlf()));
                let utf8 = matches!(e.kind(), csv::ErrorKind::Utf8 { .. });
                let reason = if utf8 {
                    "is not valid UTF-8".to_string()
                } else {
                    e.to_string()
                };
                let err = Err(FieldError {
                    field: "(row)".into(),
                    reason,
                });
                sink.take(Location::Line(line), err, "", String::new)?;
                if !utf8 {
                    return Err(bad_input(format!(
                        "{file} line {line}: cannot continue reading: {e}"
                    )));
                }
            }
            let _ = free_tx.send(batch.records);
            Ok(())
        };
        // While one batch is taken (in order, on this thread), the next is built on the
        // other cores.
        let mut pending: Option<(Batch, Vec<Built>)> = None;
        for batch in full_rx.iter() {
            if sink.read == 0 && pending.is_none() && batch.filled > 0 && batch.offset > 0 {
                // Estimate the rows in the whole file from the first batch.
                let per_row = batch.offset as f64 / batch.filled as f64;
                sink.reserve(((size as f64 / per_row) * 1.02) as usize);
            }
            let (built, taken) = rayon::join(
                || build_all(&batch.records[..batch.filled], &batch.notes),
                || match pending.take() {
                    Some((b, built)) => take_all(&mut *sink, b, built),
                    None => Ok(()),
                },
            );
            taken?;
            pending = Some((batch, built));
        }
        if let Some((b, built)) = pending {
            take_all(sink, b, built)?;
        }
        Ok(())
    })
}

fn csv_line(rec: &csv::StringRecord) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(rec);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

/// One JSON record as read, with the keys it has more than once (case and surrounding
/// spaces aside, as column names are), which a plain `serde_json::Value` would drop
/// silently, keeping the last.
struct JsonRow {
    value: serde_json::Value,
    /// (key, the values it had, in order).
    duplicates: Vec<(String, Vec<String>)>,
}

impl<'de> serde::Deserialize<'de> for JsonRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<JsonRow, D::Error> {
        use serde::de::{MapAccess, SeqAccess, Visitor};
        use serde_json::Value;
        struct V;
        fn plain(value: Value) -> JsonRow {
            JsonRow {
                value,
                duplicates: Vec::new(),
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = JsonRow;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonRow, A::Error> {
                let mut obj = serde_json::Map::new();
                let mut duplicates: Vec<(String, Vec<String>)> = Vec::new();
                let mut seen: rustc_hash::FxHashSet<String> = Default::default();
                let shown = |v: &Value| json_cell(v).unwrap_or_else(|_| v.to_string());
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    let norm = k.trim().to_ascii_lowercase();
                    if seen.contains(&norm) {
                        // The same column again, maybe spelt otherwise: one entry, the last.
                        let old = obj
                            .keys()
                            .find(|o| o.trim().eq_ignore_ascii_case(&norm))
                            .cloned();
                        let first = old.and_then(|o| obj.remove(&o));
                        match duplicates.iter_mut().find(|(d, _)| *d == norm) {
                            Some((_, vals)) => vals.push(shown(&v)),
                            None => {
                                let first = first.as_ref().map(shown).unwrap_or_default();
                                duplicates.push((norm, vec![first, shown(&v)]));
                            }
                        }
                    } else {
                        seen.insert(norm);
                    }
                    obj.insert(k, v);
                }
                Ok(JsonRow {
                    value: Value::Object(obj),
                    duplicates,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<JsonRow, A::Error> {
                let d = serde::de::value::SeqAccessDeserializer::new(seq);
                Ok(plain(serde::Deserialize::deserialize(d)?))
            }
            fn visit_bool<E>(self, v: bool) -> Result<JsonRow, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<JsonRow, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<JsonRow, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<JsonRow, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<JsonRow, E> {
                Ok(plain(Value::from(v)))
            }
            fn visit_unit<E>(self) -> Result<JsonRow, E> {
                Ok(plain(Value::Null))
            }
            fn visit_none<E>(self) -> Result<JsonRow, E> {
                Ok(plain(Value::Null))
            }
        }
        d.deserialize_any(V)
    }
}

/// Turns one JSON object into cells and builds it.
fn build_json(
    row: &JsonRow,
    line: u64,
    tz: Tz,
    columns: &mut HashMap<String, Column>,
) -> (String, Built) {
    let Some(obj) = row.value.as_object() else {
        let err = FieldError {
            field: "(record)".into(),
            reason: "is not a JSON object".into(),
        };
        return (String::new(), Err(err));
    };
    let id = obj
        .iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("id"))
        .map(|(_, v)| json_cell(v).unwrap_or_default())
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut cells: Vec<(Column, String)> = Vec::with_capacity(obj.len());
    for (k, v) in obj {
        let key = k.trim().to_ascii_lowercase();
        let col = columns
            .entry(key.clone())
            .or_insert_with(|| Column::for_name(&key))
            .clone();
        match json_cell(v) {
            Ok(s) => cells.push((col, s)),
            Err(reason) if matches!(col, Column::Id | Column::AwareAt) => {
                return (id, Err(FieldError { field: key, reason }))
            }
            Err(reason) => problems.push(FieldError {
                field: key,
                reason: format!("{reason}; the field is ignored"),
            }),
        }
    }
    for (key, values) in &row.duplicates {
        let values: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        problems.push(FieldError {
            field: key.clone(),
            reason: format!(
                "appears {} times in the object ({}); the last value is used",
                values.len(),
                values.join(", then ")
            ),
        });
    }
    let built = build(cells.iter().map(|(c, s)| (c, s.as_str())), line, tz).map(|(inc, mut p)| {
        problems.append(&mut p);
        (inc, problems)
    });
    (id, built)
}

fn json_cell(v: &serde_json::Value) -> Result<String, String> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for it in items {
                match it {
                    Value::Array(_) | Value::Object(_) => {
                        return Err(
                            "is a list of lists or objects (expected a list of values)".into()
                        )
                    }
                    other => parts.push(json_cell(other)?),
                }
            }
            parts.join(";")
        }
        Value::Object(_) => return Err("is an object (expected a value or a list)".into()),
    })
}

fn read_json_lines(bytes: &[u8], sink: &mut Sink) -> Result<()> {
    let tz = sink.opts.input_tz;
    let mut columns = HashMap::new();
    for (i, raw_line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = i as u64 + 1;
        let raw_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        if raw_line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let raw = || String::from_utf8_lossy(raw_line).into_owned();
        let (id, built) = match serde_json::from_slice::<JsonRow>(raw_line) {
            Ok(v) => build_json(&v, line_no, tz, &mut columns),
            Err(e) => (
                String::new(),
                Err(FieldError {
                    field: "(record)".into(),
                    reason: format!("is not valid JSON: {e}"),
                }),
            ),
        };
        sink.take(Location::Line(line_no), built, &id, raw)?;
    }
    Ok(())
}

fn read_json_array(bytes: &[u8], sink: &mut Sink) -> Result<()> {
    let file = sink.file.clone();
    let values: Vec<JsonRow> = serde_json::from_slice(bytes).map_err(|e| {
        bad_input(format!(
            "{file} line {}, column {}: not a JSON array of incidents: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let tz = sink.opts.input_tz;
    let mut columns = HashMap::new();
    for (i, v) in values.iter().enumerate() {
        let n = i as u64 + 1;
        let (id, built) = build_json(v, n, tz, &mut columns);
        sink.take(Location::Record(n), built, &id, || v.value.to_string())?;
    }
    Ok(())
}

/// Writes rejected rows where a person can review and fix them.
pub fn write_quarantine(path: &Path, rejected: &[Rejection]) -> Result<()> {
    crate::util::atomic::write_atomic(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(["file", "location", "id", "field", "reason", "raw"])?;
        for r in rejected {
            let loc = r.location.to_string();
            let cells = [&r.file, &loc, &r.id, &r.field, &r.reason, &r.raw];
            out.write_record(
                cells
                    .iter()
                    .map(|c| crate::util::text::csv_safe(c).into_owned()),
            )?;
        }
        out.flush()?;
        Ok(())
    })
    .with_context(|| format!("cannot write quarantine file {}", path.display()))
}

/// Where problems in kept rows go: beside the quarantine file, `<stem>.problems.csv` for
/// `<stem>.quarantine.csv` (else `<stem>.problems.csv` for any other quarantine name).
pub fn problems_path(quarantine: &Path) -> PathBuf {
    let name = quarantine
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".quarantine.csv")
        .or_else(|| name.strip_suffix(".csv"))
        .unwrap_or(&name);
    quarantine.with_file_name(format!("{stem}.problems.csv"))
}

/// Where rejected rows go unless the user says otherwise: `<stem>.quarantine.csv` in the
/// current directory (input folders may be read-only).
pub fn default_quarantine_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "incidents".into());
    PathBuf::from(format!("{stem}.quarantine.csv"))
}
