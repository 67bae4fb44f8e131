//! Writing the monthly report: its HTML, Markdown, JSON and PDF renderings and a manifest
//! of hashes, into a folder replaced whole, so a failed run leaves the previous report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Utc;
use handlebars::Handlebars;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::utc_text;
use crate::documents::report::MonthlyReport;
use crate::util::defaults::Origin;
use crate::util::text::escape_markdown;

/// Loads `report.html.hbs` and `report.md.hbs` from `dir`.
pub struct ReportTemplates {
    html: Handlebars<'static>,
    markdown: Handlebars<'static>,
}

impl ReportTemplates {
    /// From the templates folder `dir`, else built in, file by file.
    pub fn load(dir: Option<&Path>) -> Result<ReportTemplates> {
        let load = |name: &str, escape: fn(&str) -> String| {
            crate::documents::load_template(dir, name, "report", escape)
        };
        Ok(ReportTemplates {
            html: load("report.html.hbs", handlebars::html_escape)?,
            markdown: load("report.md.hbs", escape_markdown)?,
        })
    }
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

#[derive(Serialize)]
struct ManifestEntry {
    path: String,
    bytes: u64,
    sha256: String,
}

#[derive(Serialize)]
struct Manifest {
    generator: String,
    generated_at: String,
    month: String,
    outputs: Vec<ManifestEntry>,
    inputs: Vec<ManifestEntry>,
}

/// Writes the report into `out_dir` all at once: every file goes into a fresh folder
/// beside it first, and only when all are written does that folder replace the old one,
/// so a failed run leaves the previous report as it was. Returns the files written.
pub fn write(
    report: &MonthlyReport,
    templates: &ReportTemplates,
    out_dir: &Path,
    inputs: &[Origin],
) -> Result<Vec<PathBuf>> {
    let parent = out_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".regwatch-report-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a folder in {}", parent.display()))?;
    let html = templates
        .html
        .render("report", report)
        .context("rendering report.html")?;
    let markdown = templates
        .markdown
        .render("report", report)
        .context("rendering report.md")?;
    let json = serde_json::to_string_pretty(report)? + "\n";
    let pdf = crate::render::pdf::report::render(report);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("report.html", html.into_bytes()),
        ("report.md", markdown.into_bytes()),
        ("report.json", json.into_bytes()),
        ("report.pdf", pdf),
    ];
    let mut outputs = Vec::new();
    for (name, bytes) in &files {
        let p = staging.path().join(name);
        std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        outputs.push(ManifestEntry {
            path: name.to_string(),
            bytes: bytes.len() as u64,
            sha256: format!("{:x}", Sha256::digest(bytes)),
        });
    }
    let inputs = inputs
        .iter()
        .map(|o| {
            let (bytes, sha256) = o.digest()?;
            Ok(ManifestEntry {
                path: o.label(),
                bytes,
                sha256,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let manifest = Manifest {
        generator: format!("regwatch {}", env!("CARGO_PKG_VERSION")),
        generated_at: utc_text(Utc::now()),
        month: report.month.clone(),
        outputs,
        inputs,
    };
    std::fs::write(
        staging.path().join("manifest.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )
    .context("cannot write manifest.json")?;
    // Swap: old report aside, new one in, old one removed.
    let staged = staging.keep();
    let backup = parent.join(format!(
        ".regwatch-previous-{}",
        out_dir
            .file_name()
            .map_or("report".into(), |n| n.to_string_lossy().into_owned())
    ));
    if out_dir.exists() {
        let _ = std::fs::remove_dir_all(&backup);
        std::fs::rename(out_dir, &backup)
            .with_context(|| format!("cannot move the previous {} aside", out_dir.display()))?;
    }
    if let Err(e) = std::fs::rename(&staged, out_dir) {
        if backup.exists() {
            let _ = std::fs::rename(&backup, out_dir);
        }
        return Err(e).with_context(|| format!("cannot put the report in {}", out_dir.display()));
    }
    let _ = std::fs::remove_dir_all(&backup);
    let mut written: Vec<PathBuf> = files.iter().map(|(n, _)| out_dir.join(n)).collect();
    written.push(out_dir.join("manifest.json"));
    Ok(written)
}
