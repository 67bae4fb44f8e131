//! Writing files so that a reader never sees half of one: write a temp file beside the
//! target, flush it to disk, then rename it over the target.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `path` atomically with whatever `fill` writes.
///
/// A target that exists and is not a regular file (`/dev/null`, a named pipe, a terminal)
/// is written in place: renaming over it would replace the device with a file.
pub fn write_atomic<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> Result<()>,
{
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut w = BufWriter::new(file);
        fill(&mut w).with_context(|| format!("while writing {}", path.display()))?;
        return w
            .flush()
            .with_context(|| format!("while writing {}", path.display()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".regwatch-").suffix(".tmp");
    // The file gets the mode a plain create would give it (0666 less the umask) or, when
    // it replaces a file, that file's: a temp file's private 0600 would hide a report
    // from the people it is written for.
    #[cfg(unix)]
    builder.permissions(match std::fs::metadata(path) {
        Ok(m) => m.permissions(),
        Err(_) => std::os::unix::fs::PermissionsExt::from_mode(0o666),
    });
    let tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        fill(&mut w).with_context(|| format!("while writing {}", path.display()))?;
        w.flush()
            .with_context(|| format!("while writing {}", path.display()))?;
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot flush {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// Writes bytes atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| Ok(w.write_all(bytes)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_written_in_place_not_replaced() {
        let null = Path::new("/dev/null");
        write_atomic(null, |w| Ok(w.write_all(b"gone")?)).unwrap();
        let meta = std::fs::metadata(null).unwrap();
        assert!(!meta.is_file(), "/dev/null was replaced by a file");
    }

    #[cfg(unix)]
    #[test]
    fn files_get_the_usual_mode_and_keep_the_one_they_had() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.md");
        write_bytes_atomic(&p, b"one").unwrap();
        let plain = dir.path().join("plain.md");
        std::fs::write(&plain, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), mode(&plain), "as a plain create would make it");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_bytes_atomic(&p, b"two").unwrap();
        assert_eq!(mode(&p), 0o640, "a replaced file keeps its mode");
    }

    #[test]
    fn files_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_bytes_atomic(&p, b"one").unwrap();
        write_bytes_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp files left behind");
    }
}
