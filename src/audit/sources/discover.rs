//! Finding the audit files under the inputs (a file, a list, or a directory tree, `.gz`
//! included) and telling each one's format from its name and first bytes.
//!
//! Never silent: every file found that is not read is listed with why (not audit events,
//! a second path to a file already found, a folder already walked: a symlink loop), and
//! a file given by path that cannot be read as audit events is rejected with why. Each
//! real file (by device and inode) is read once, however many paths lead to it.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::intake::{SourceFile, SourceFormat};
use crate::error::bad_input;

/// A file found under the inputs and not read, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SkippedFile {
    pub file: String,
    pub reason: String,
}

/// What the inputs hold: the files to read (some refused whole, with why) and the files
/// found and left unread, with why.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<SourceFile>,
    pub skipped: Vec<SkippedFile>,
}

/// Bytes read to tell a file's format.
const SNIFF: usize = 4096;

/// Raw bytes read from a gzipped stream to tell its format: its first 4 KB decompressed
/// may need more than 4 KB of it.
const SNIFF_GZIP: usize = 64 << 10;

/// The input that names standard input (a file named `-` is given as `./-`).
pub const STDIN: &str = "-";

/// Why a JSON file that is not audit events is not read.
const NOT_EVENTS: &str =
    "not audit events: no apiVersion/kind (Kubernetes), not {\"Records\": [...]} (CloudTrail), no native timestamp/actor fields";

/// Device and inode: one real file, whatever the path.
#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

struct Walker {
    forced: Option<SourceFormat>,
    /// Files and folders seen, by identity, with the path first seen.
    seen: HashMap<(u64, u64), PathBuf>,
    out: Discovered,
}

/// Finds the audit files under the inputs and tells their formats.
pub fn discover(inputs: &[PathBuf], forced: Option<SourceFormat>) -> Result<Discovered> {
    let mut w = Walker {
        forced,
        seen: HashMap::new(),
        out: Discovered::default(),
    };
    let mut stdin_read = false;
    for input in inputs {
        if input.as_os_str() == STDIN {
            if std::mem::replace(&mut stdin_read, true) {
                w.skip(input, "standard input given again: read once");
            } else {
                w.out.files.push(from_stdin(forced));
            }
            continue;
        }
        let meta = std::fs::metadata(input)
            .map_err(|e| bad_input(format!("cannot read {}: {e}", input.display())))?;
        if w.again(input, &meta) {
            continue;
        }
        if meta.is_dir() {
            w.walk(input)?;
        } else {
            let f = match classify(input, &meta, forced, true) {
                Class::Read(f) => f,
                Class::Skip(reason) if reason.is_empty() => SourceFile::refused(
                    input,
                    "cannot tell the format (use .jsonl, .csv, .parquet, a CloudTrail .json(.gz), a Kubernetes audit .log/.jsonl, or --input-format)",
                ),
                Class::Skip(reason) | Class::Refuse(reason) => SourceFile::refused(input, &reason),
            };
            w.out.files.push(f);
        }
    }
    if w.out.files.is_empty() {
        let mut msg = "no audit files found in the inputs".to_string();
        for s in w.out.skipped.iter().take(5) {
            msg.push_str(&format!("\n  skipped {}: {}", s.file, s.reason));
        }
        return Err(bad_input(msg));
    }
    Ok(w.out)
}

/// The paths of the files under the inputs, each real file once, without opening any (for
/// a progress bar's total).
pub fn regular_files(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut w = Walker {
        forced: Some(SourceFormat::Jsonl),
        seen: HashMap::new(),
        out: Discovered::default(),
    };
    for input in inputs {
        let Ok(meta) = std::fs::metadata(input) else {
            continue;
        };
        if w.again(input, &meta) {
            continue;
        }
        if meta.is_dir() {
            let _ = w.walk(input);
        } else if meta.is_file() {
            w.out.files.push(SourceFile::refused(input, ""));
        }
    }
    w.out.files.into_iter().map(|f| f.path).collect()
}

impl Walker {
    /// Whether this real file or folder was seen before (then listed as skipped).
    fn again(&mut self, path: &Path, meta: &std::fs::Metadata) -> bool {
        let Some(id) = identity(meta) else {
            return false;
        };
        match self.seen.get(&id) {
            Some(first) => {
                let reason = if meta.is_dir() {
                    format!(
                        "folder already walked as {} (a symlink loop or a second path to it)",
                        first.display()
                    )
                } else {
                    format!(
                        "same file as {} (a hard link, a symlink or a repeated path): read once",
                        first.display()
                    )
                };
                self.skip(path, reason);
                true
            }
            None => {
                self.seen.insert(id, path.to_path_buf());
                false
            }
        }
    }

    fn skip(&mut self, path: &Path, reason: impl Into<String>) {
        self.out.skipped.push(SkippedFile {
            file: path.display().to_string(),
            reason: reason.into(),
        });
    }

    fn walk(&mut self, dir: &Path) -> Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.skip(dir, format!("cannot list the folder: {e}"));
                return Ok(());
            }
        };
        let mut paths = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => paths.push(e.path()),
                Err(e) => self.skip(dir, format!("cannot list the folder: {e}")),
            }
        }
        paths.sort();
        for path in paths {
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.skip(&path, format!("cannot read: {e}"));
                    continue;
                }
            };
            // CloudTrail digest files prove integrity; they hold no events.
            if meta.is_dir() && path.file_name().is_some_and(|n| n == "CloudTrail-Digest") {
                continue;
            }
            if self.again(&path, &meta) {
                continue;
            }
            if meta.is_dir() {
                self.walk(&path)?;
                continue;
            }
            match classify(&path, &meta, self.forced, false) {
                Class::Read(f) => self.out.files.push(f),
                Class::Skip(reason) if reason.is_empty() => self.skip(
                    &path,
                    "not an audit log by its name (.jsonl, .ndjson, .json, .log, .csv, .parquet, .gz of these)",
                ),
                Class::Skip(reason) => self.skip(&path, reason),
                Class::Refuse(reason) => self.out.files.push(SourceFile::refused(&path, &reason)),
            }
        }
        Ok(())
    }
}

/// What to do with a file: read it, leave it (why; empty: not an audit log by its name),
/// or refuse it (why: it cannot be read).
enum Class {
    Read(SourceFile),
    Skip(String),
    Refuse(String),
}

/// The first bytes of a file (decompressed if gzipped), and for anything but a regular
/// file (a FIFO, a pipe, a terminal), the file itself, opened, with the raw bytes read
/// from it: the reader gets them back in front of the rest, so nothing read here is lost.
fn sniff(
    path: &Path,
    meta: &std::fs::Metadata,
    gzip: bool,
) -> std::result::Result<(Vec<u8>, Option<super::intake::Pending>), String> {
    let cannot = |e: std::io::Error| format!("cannot read: {e}");
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    // A stream's raw bytes are kept whole, so read enough of them.
    let raw = read_head(&mut file, if gzip { SNIFF_GZIP } else { SNIFF })?;
    let head = unzip_head(&raw, gzip)?;
    let pending = (!meta.is_file()).then(|| Arc::new(Mutex::new(Some((raw, file)))));
    Ok((head, pending))
}

/// Up to `limit` bytes from the start of `file`.
fn read_head(file: &mut std::fs::File, limit: usize) -> std::result::Result<Vec<u8>, String> {
    let mut raw = Vec::with_capacity(limit.min(SNIFF_GZIP));
    file.take(limit as u64)
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(raw)
}

/// The first 4 KB of what `raw` holds: itself, or decompressed when gzipped.
fn unzip_head(raw: &[u8], gzip: bool) -> std::result::Result<Vec<u8>, String> {
    Ok(if gzip {
        let mut head = Vec::with_capacity(SNIFF);
        let mut d = flate2::read::MultiGzDecoder::new(raw).take(SNIFF as u64);
        if let Err(e) = d.read_to_end(&mut head) {
            // A short piece of a longer stream ends early; anything else is not gzip.
            if e.kind() != std::io::ErrorKind::UnexpectedEof || head.is_empty() {
                return Err(format!("not a readable gzip file: {e}"));
            }
        }
        head
    } else {
        raw[..raw.len().min(SNIFF)].to_vec()
    })
}

/// Standard input, its format told from its first bytes (gzip by its magic number) or
/// forced, with the bytes read to tell it kept for the reader (see [`sniff`]).
fn from_stdin(forced: Option<SourceFormat>) -> SourceFile {
    let path = Path::new(STDIN);
    let read = || -> std::result::Result<SourceFile, String> {
        let mut file = stdin_file().map_err(|e| format!("cannot read: {e}"))?;
        let raw = read_head(&mut file, SNIFF_GZIP)?;
        let gzip = raw.starts_with(&[0x1f, 0x8b]);
        if raw.starts_with(b"PAR1") {
            return Err("Parquet cannot be read from standard input (it is read from its end): give the file by path".into());
        }
        let head = unzip_head(&raw, gzip)?;
        let format = match forced {
            Some(SourceFormat::Parquet) => {
                return Err("Parquet cannot be read from standard input: give the file by path".into())
            }
            Some(f) => f,
            None => content_format(&String::from_utf8_lossy(&head)).ok_or(
                "cannot tell the format of standard input from its first bytes (use --input-format)",
            )?,
        };
        Ok(SourceFile {
            path: path.to_path_buf(),
            format,
            gzip,
            refused: None,
            pending: Some(Arc::new(Mutex::new(Some((raw, file))))),
        })
    };
    read().unwrap_or_else(|reason| SourceFile::refused(path, &reason))
}

/// A format told from a stream's first bytes alone (no name to go by): CloudTrail,
/// Kubernetes or native JSON lines, or CSV with the native columns in its header.
fn content_format(head: &str) -> Option<SourceFormat> {
    let first_line = head
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches('\u{feff}');
    if head.contains("\"Records\"") {
        Some(SourceFormat::Cloudtrail)
    } else if head.contains("audit.k8s.io/") {
        Some(SourceFormat::K8s)
    } else if first_line.trim_start().starts_with('{') && looks_native(head) {
        Some(SourceFormat::Jsonl)
    } else if first_line.contains(',')
        && ["timestamp", "actor", "operation"]
            .iter()
            .all(|c| first_line.to_ascii_lowercase().contains(c))
    {
        Some(SourceFormat::Csv)
    } else {
        None
    }
}

/// Standard input as a file of its own (a duplicate of its descriptor), so that it is
/// read like a FIFO.
#[cfg(unix)]
fn stdin_file() -> std::io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    Ok(std::io::stdin().as_fd().try_clone_to_owned()?.into())
}

#[cfg(windows)]
fn stdin_file() -> std::io::Result<std::fs::File> {
    use std::os::windows::io::AsHandle;
    Ok(std::io::stdin().as_handle().try_clone_to_owned()?.into())
}

/// Decides a file's format from its name and, for JSON, its first bytes.
fn classify(
    path: &Path,
    meta: &std::fs::Metadata,
    forced: Option<SourceFormat>,
    explicit: bool,
) -> Class {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let gzip = name.ends_with(".gz");
    let base = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = base.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let mut file = SourceFile {
        path: path.to_path_buf(),
        format: SourceFormat::Jsonl,
        gzip,
        refused: None,
        pending: None,
    };
    let streamed = !meta.is_file();
    if let Some(f) = forced {
        file.format = f;
        if streamed {
            // Opened once: what a sniff would read is not read twice.
            match sniff(path, meta, gzip) {
                Ok((_, pending)) => file.pending = pending,
                Err(reason) => return Class::Refuse(reason),
            }
        }
        return Class::Read(file);
    }
    file.format = match ext {
        "csv" => SourceFormat::Csv,
        "parquet" if ocsf_parquet(path) => SourceFormat::Ocsf,
        "parquet" => SourceFormat::Parquet,
        "json" | "jsonl" | "ndjson" | "log" => {
            let (head, pending) = match sniff(path, meta, gzip) {
                Ok(sniffed) => sniffed,
                Err(reason) => return Class::Refuse(reason),
            };
            file.pending = pending;
            let head = String::from_utf8_lossy(&head);
            if head.contains("\"Records\"") {
                SourceFormat::Cloudtrail
            } else if head.contains("audit.k8s.io/") {
                SourceFormat::K8s
            } else if head.contains("\"class_uid\"") {
                // OCSF events (Security Lake): API Activity is read, other classes skipped.
                SourceFormat::Ocsf
            } else if ext == "json" && looks_native(&head) && !explicit {
                return Class::Skip(
                    "native events in a .json file found in a folder are not read (name it .jsonl, or give it by path)".into(),
                );
            } else if ext == "log" {
                return Class::Skip(
                    "not a Kubernetes audit log (no apiVersion audit.k8s.io/...)".into(),
                );
            } else if ext == "json" && !looks_native(&head) {
                // A stray JSON file (a CloudTrail digest, a manifest) is not ours.
                return if explicit {
                    Class::Refuse(NOT_EVENTS.into())
                } else {
                    Class::Skip(NOT_EVENTS.into())
                };
            } else {
                SourceFormat::Jsonl
            }
        }
        _ => return Class::Skip(String::new()),
    };
    Class::Read(file)
}

/// Whether a Parquet file holds OCSF events (a `class_uid` column, as Security Lake
/// writes them) rather than the native schema. One that cannot be read is left to the
/// native reader, which says why.
fn ocsf_parquet(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    use polars::prelude::SerReader;
    let mut reader = polars::prelude::ParquetReader::new(f);
    reader.schema().is_ok_and(|s| s.contains("class_uid"))
}

/// Whether a JSON file's first bytes look like native events (their required fields).
fn looks_native(head: &str) -> bool {
    head.contains("\"timestamp\"") && head.contains("\"actor\"")
}
