//! Temporary files for state that outgrows its memory budget: records appended to one of
//! [`PARTITIONS`] files, read back one partition at a time. The folder is removed on drop;
//! a killed run's folder is removed by the next run ([`remove_stale`]).
//! Also the small byte codec the records are written in.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

/// How many files a spilled state is split over: each is read back on its own, so memory
/// at the end is about the spilled state over this.
pub const PARTITIONS: usize = 32;

/// The partition of a key's hash (its high bits: hash tables use the low ones).
pub fn partition_of(hash: u64) -> usize {
    (hash >> 40) as usize % PARTITIONS
}

/// Removes the temporary folders of runs that were killed (so could not remove their
/// own): a folder is named `regwatch-WHAT-PID-RANDOM`, and one whose process is gone is
/// stale. Linux only (it asks `/proc`); elsewhere nothing is removed. Called at the start
/// of every audit run.
pub fn remove_stale() {
    let proc_fs = std::path::Path::new("/proc/self");
    if !proc_fs.exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("regwatch-")) else {
            continue;
        };
        // WHAT-PID-RANDOM: the process id is the last but one part.
        let mut parts = rest.rsplitn(3, '-');
        let (Some(_), Some(pid), Some(what)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        // Only this module's folders.
        if !matches!(what, "findings" | "change-histories") {
            continue;
        }
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if !alive && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Partition files being written. Nothing is made on disk until the first record: most
/// runs never need them. Errors (making the folder, writing) are kept and reported by
/// [`PartitionFiles::finish`], so a writer on a hot path has nothing to check.
pub struct PartitionFiles {
    /// Names the state in errors and in the folder's name.
    what: &'static str,
    open: Option<(tempfile::TempDir, Vec<BufWriter<File>>)>,
    error: Option<anyhow::Error>,
    pub records: u64,
}

impl PartitionFiles {
    pub fn new(what: &'static str) -> PartitionFiles {
        PartitionFiles {
            what,
            open: None,
            error: None,
            records: 0,
        }
    }

    fn create(what: &str) -> Result<(tempfile::TempDir, Vec<BufWriter<File>>)> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("regwatch-{what}-{}-", std::process::id()))
            .tempdir()
            .with_context(|| format!("cannot make a temporary folder for {what}"))?;
        let files = (0..PARTITIONS)
            .map(|p| {
                let path = dir.path().join(format!("{p}.bin"));
                File::create(&path)
                    .map(|f| BufWriter::with_capacity(64 << 10, f))
                    .with_context(|| format!("cannot create {}", path.display()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((dir, files))
    }

    /// Appends one record (framed with its length) to partition `p`.
    pub fn write(&mut self, p: usize, record: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if self.open.is_none() {
            match Self::create(self.what) {
                Ok(open) => self.open = Some(open),
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
        let Some((dir, files)) = &mut self.open else {
            return;
        };
        let f = &mut files[p % PARTITIONS];
        let framed = f
            .write_all(&(record.len() as u32).to_le_bytes())
            .and_then(|()| f.write_all(record));
        if let Err(e) = framed {
            let context = format!("cannot write to {}", dir.path().display());
            self.error = Some(anyhow::Error::new(e).context(context));
        }
        self.records += 1;
    }

    /// Flushes the files and hands them back for reading; `None` if nothing was written.
    pub fn finish(self) -> Result<Option<Partitions>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let Some((dir, mut files)) = self.open else {
            return Ok(None);
        };
        for f in &mut files {
            f.flush()
                .with_context(|| format!("cannot write to {}", dir.path().display()))?;
        }
        drop(files);
        Ok(Some(Partitions {
            dir,
            records: self.records,
        }))
    }
}

/// Partition files, written and flushed.
pub struct Partitions {
    dir: tempfile::TempDir,
    /// How many records were written.
    pub records: u64,
}

impl Partitions {
    /// A file of the same folder, for other state (removed with the folder).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Calls `each` for every record of partition `p`, in the order written.
    pub fn read(&self, p: usize, mut each: impl FnMut(&mut Dec) -> Option<()>) -> Result<()> {
        let path = self.path(&format!("{p}.bin"));
        // Read whole, into a buffer sized from the file's length (grown from empty it was
        // copied at each doubling).
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut rest = Dec(&bytes[..]);
        while !rest.0.is_empty() {
            let record = rest
                .u32()
                .and_then(|len| rest.take(len as usize))
                .and_then(|body| each(&mut Dec(body)));
            if record.is_none() {
                anyhow::bail!("{} is damaged", path.display());
            }
        }
        Ok(())
    }
}

/// Writes the fields of a record.
pub struct Enc<'a>(pub &'a mut Vec<u8>);

impl Enc<'_> {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v.as_bytes());
        self
    }
}

/// Reads the fields of a record back; `None` when it is cut short.
pub struct Dec<'a>(pub &'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.array()?))
    }
    pub fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        // Nearly every name and sentence is ASCII, which a word-at-a-time test tells more
        // cheaply than a UTF-8 check of a short text (a tenth of what reading findings
        // back from disk cost).
        if bytes.is_ascii() {
            // SAFETY: ASCII bytes are valid UTF-8.
            return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        simdutf8::basic::from_utf8(bytes).ok()
    }
}
