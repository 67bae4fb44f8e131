//! The built-in mappings and templates, and the one way every rule or template file is
//! read. A folder (`--mappings`, `--templates`, `[paths]`) overrides them file by file: a
//! file present in the folder wins, a file absent falls back to the built-in one. Each
//! file read is recorded, so a run can say once which came from where (`note`).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use anyhow::Result;
use sha2::{Digest, Sha256};

use crate::error::bad_input;

/// Which folder a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Mappings,
    Templates,
}

impl Kind {
    pub fn folder(self) -> &'static str {
        match self {
            Kind::Mappings => "mappings",
            Kind::Templates => "templates",
        }
    }

    /// Every built-in file of this kind: (file name, text).
    pub fn builtins(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Mappings => MAPPINGS,
            Kind::Templates => TEMPLATES,
        }
    }
}

macro_rules! builtin {
    ($dir:literal, $($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../../", $dir, "/", $name)))),+]
    };
}

const MAPPINGS: &[(&str, &str)] = builtin!(
    "mappings",
    "regimes.toml",
    "uk-bank-holidays.json",
    "eu-public-holidays.json",
    "special-categories.toml",
    "policies.toml",
    "nist-ai-rmf-1.0-core.csv",
    "audit-sources.toml",
    "sigma-attack-to-nist.toml",
);

const TEMPLATES: &[(&str, &str)] = builtin!(
    "templates",
    "alert-subject.hbs",
    "alert-body.hbs",
    "input-problems-subject.hbs",
    "input-problems-body.hbs",
    "report.html.hbs",
    "report.md.hbs",
    "ico-draft.html.hbs",
    "ico-draft.md.hbs",
    "fca-draft.html.hbs",
    "fca-draft.md.hbs",
);

/// Where a file's text came from: a file on disk, or built into the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    /// `kind` and file name.
    Builtin(Kind, &'static str),
}

impl Origin {
    /// A path, or `builtin:mappings/regimes.toml`.
    pub fn label(&self) -> String {
        match self {
            Origin::File(p) => p.display().to_string(),
            Origin::Builtin(k, n) => format!("builtin:{}/{n}", k.folder()),
        }
    }

    /// Length and SHA-256 (hex) of the bytes: the file's, or the embedded ones.
    pub fn digest(&self) -> Result<(u64, String)> {
        let bytes: Cow<[u8]> = match self {
            Origin::File(p) => Cow::Owned(
                std::fs::read(p)
                    .map_err(|e| bad_input(format!("cannot read {}: {e}", p.display())))?,
            ),
            Origin::Builtin(k, n) => Cow::Borrowed(builtin(*k, n).unwrap_or("").as_bytes()),
        };
        Ok((bytes.len() as u64, format!("{:x}", Sha256::digest(&bytes))))
    }
}

/// The built-in text of `name`, if there is one.
pub fn builtin(kind: Kind, name: &str) -> Option<&'static str> {
    kind.builtins()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

struct Used {
    kind: Kind,
    dir: Option<PathBuf>,
    name: &'static str,
    from_folder: bool,
}

static USED: Mutex<Vec<Used>> = Mutex::new(Vec::new());
static QUIET: AtomicBool = AtomicBool::new(false);

/// Reads `name` from `dir` if the folder has it, else the built-in file. A folder that does
/// not exist is an error (a typo should not silently mean "built in").
pub fn read(kind: Kind, dir: Option<&Path>, name: &str) -> Result<(Cow<'static, str>, Origin)> {
    let (static_name, text) = kind
        .builtins()
        .iter()
        .find(|(n, _)| *n == name)
        .copied()
        .ok_or_else(|| bad_input(format!("no built-in {}/{name}", kind.folder())))?;
    let found = match dir {
        Some(d) if !d.is_dir() => {
            return Err(bad_input(format!(
                "cannot read {}: the {} folder {} does not exist",
                d.join(name).display(),
                kind.folder(),
                d.display()
            )))
        }
        Some(d) => {
            let path = d.join(name);
            if path.exists() {
                let t = std::fs::read_to_string(&path)
                    .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
                Some((t, path))
            } else {
                None
            }
        }
        None => None,
    };
    let from_folder = found.is_some();
    if let Ok(mut used) = USED.lock() {
        if !used
            .iter()
            .any(|u| u.kind == kind && u.name == static_name && u.dir.as_deref() == dir)
        {
            used.push(Used {
                kind,
                dir: dir.map(Path::to_path_buf),
                name: static_name,
                from_folder,
            });
        }
    }
    Ok(match found {
        Some((t, path)) => (Cow::Owned(t), Origin::File(path)),
        None => (Cow::Borrowed(text), Origin::Builtin(kind, static_name)),
    })
}

pub fn read_mapping(dir: Option<&Path>, name: &str) -> Result<(Cow<'static, str>, Origin)> {
    read(Kind::Mappings, dir, name)
}

pub fn read_template(dir: Option<&Path>, name: &str) -> Result<(Cow<'static, str>, Origin)> {
    read(Kind::Templates, dir, name)
}

/// No note on stderr for this run (`--quiet`).
pub fn quiet() {
    QUIET.store(true, Ordering::Relaxed);
}

/// For each folder given, which files this run read from it and which were built in; one
/// line per folder, or nothing when no folder was given (everything built in).
pub fn note() -> Vec<String> {
    if QUIET.load(Ordering::Relaxed) {
        return Vec::new();
    }
    let Ok(used) = USED.lock() else {
        return Vec::new();
    };
    let mut dirs: Vec<(Kind, &PathBuf)> = used
        .iter()
        .filter_map(|u| u.dir.as_ref().map(|d| (u.kind, d)))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs.into_iter()
        .map(|(kind, dir)| {
            let names = |folder: bool| {
                let v: Vec<&str> = used
                    .iter()
                    .filter(|u| u.kind == kind && u.dir.as_ref() == Some(dir))
                    .filter(|u| u.from_folder == folder)
                    .map(|u| u.name)
                    .collect();
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                }
            };
            format!(
                "{} from {}: {}; built in: {}",
                kind.folder(),
                dir.display(),
                names(true),
                names(false)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_overrides_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("regimes.toml"), "# mine\n").unwrap();
        let (t, o) = read_mapping(Some(dir.path()), "regimes.toml").unwrap();
        assert_eq!(t, "# mine\n");
        assert_eq!(o, Origin::File(dir.path().join("regimes.toml")));
        let (t, o) = read_mapping(Some(dir.path()), "uk-bank-holidays.json").unwrap();
        assert_eq!(t, builtin(Kind::Mappings, "uk-bank-holidays.json").unwrap());
        assert_eq!(o.label(), "builtin:mappings/uk-bank-holidays.json");
        assert!(read_mapping(Some(&dir.path().join("nope")), "regimes.toml").is_err());
        let note = note().join("\n");
        assert!(note.contains("built in: uk-bank-holidays.json"), "{note}");
    }
}
