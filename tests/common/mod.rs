//! Helpers shared by the integration tests: run the real binary, compare with golden files,
//! and a real SMTP server on loopback.
#![allow(dead_code)]

pub mod findings;
pub mod pdf;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const NOW: &str = "2026-11-28T12:00:00Z";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

pub fn config() -> String {
    fixture("regwatch.toml").display().to_string()
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `regwatch ARGS` in `cwd`.
pub fn regwatch_in(cwd: &Path, args: &[&str]) -> Run {
    regwatch_env(cwd, args, &[])
}

/// Runs `regwatch ARGS` in `cwd` with these environment variables set. The terminal's
/// (`COLUMNS`, `NO_COLOR`) are cleared unless given, so tables do not depend on the shell
/// the tests run from.
pub fn regwatch_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regwatch"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("REGWATCH_CONFIG")
        .env_remove("REGWATCH_SMTP_USERNAME")
        .env_remove("REGWATCH_SMTP_PASSWORD")
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run regwatch");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `regwatch ARGS` from the repository root.
pub fn regwatch(args: &[&str]) -> Run {
    regwatch_in(&root(), args)
}

/// Runs `python3 tests/support/SCRIPT ARGS` (a checker or reader the tests share):
/// whether it exited 0, and what it printed (standard output, then standard error).
pub fn python_support(script: &str, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new("python3")
        .arg(root().join("tests/support").join(script))
        .args(args)
        .output()
        .expect("python3 (pip install -r tests/requirements.txt)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// Compares with `tests/golden/NAME`; `REGWATCH_BLESS=1` rewrites the golden file.
pub fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("REGWATCH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with REGWATCH_BLESS=1 to create)",
            path.display()
        )
    });
    if expected != actual {
        let (mut line, mut a, mut b) = (0, "", "");
        for (i, (x, y)) in expected.lines().zip(actual.lines()).enumerate() {
            if x != y {
                (line, a, b) = (i + 1, x, y);
                break;
            }
        }
        panic!(
            "{} differs from the output (first difference at line {line}):\n expected: {a}\n   actual: {b}\n(REGWATCH_BLESS=1 rewrites it after review)",
            path.display()
        );
    }
}

/// Writes `dir/regwatch.toml` for an alerts test: the shipped mappings and templates, the
/// fixture services, the FCA/PRA regime rehearsed, `middle` (the alert tables), and mail
/// to the SMTP server on 127.0.0.1:`smtp_port`.
pub fn write_alert_config(dir: &Path, smtp_port: u16, middle: &str) -> PathBuf {
    let text = format!(
        r#"
[paths]
mappings = "{root}/mappings"
templates = "{root}/templates"
services = "{root}/tests/fixtures/services.toml"

[regimes]
rehearse = ["fca-pra-operational-incident"]
{middle}
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
timeout_seconds = 5
"#,
        root = root().display()
    );
    let path = dir.join("regwatch.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The arguments `--config CFG alerts INCIDENTS --now NOW EXTRA...`.
pub fn alerts_args<'a>(
    cfg: &'a Path,
    incidents: &'a Path,
    now: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "--config",
        cfg.to_str().unwrap(),
        "alerts",
        incidents.to_str().unwrap(),
        "--now",
        now,
    ];
    args.extend_from_slice(extra);
    args
}

/// The alert state an alerts test config keeps in `dir/state.json`.
pub fn alert_state(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap()
}

/// A real SMTP server (Python's aiosmtpd) on 127.0.0.1, writing each message it accepts
/// as a JSON file into a folder. Killed when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl SmtpServer {
    pub fn start(dir: &Path, port: Option<u16>) -> SmtpServer {
        SmtpServer::start_refusing(dir, port, &[])
    }

    /// A server that answers RCPT TO for each of `refused` with 550, as for an unknown
    /// mailbox, and accepts the other recipients.
    pub fn start_refusing(dir: &Path, port: Option<u16>, refused: &[&str]) -> SmtpServer {
        std::fs::create_dir_all(dir).unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(root().join("tests/support/smtp_sink.py"))
            .arg("--dir")
            .arg(dir);
        if let Some(p) = port {
            cmd.arg("--port").arg(p.to_string());
        }
        for r in refused {
            cmd.arg("--refuse").arg(r);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is needed for the SMTP tests (.ci/run installs it with aiosmtpd)");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port: u16 = first.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("SMTP server did not start (is aiosmtpd installed? pip install aiosmtpd); said {first:?}")
        });
        SmtpServer {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// Every message received so far: (recipients, raw message).
    pub fn messages(&self) -> Vec<(Vec<String>, String)> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                let v: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                let rcpts = v["rcpt_tos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect();
                (rcpts, v["data"].as_str().unwrap().to_string())
            })
            .collect()
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a PDF, read back with poppler's `pdftotext` (`extra`: e.g. `-layout`,
/// `-f 2 -l 2`).
pub fn pdftotext(pdf: &Path, extra: &[&str]) -> String {
    let out = Command::new("pdftotext")
        .args(extra)
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is needed; .ci/run installs it");
    assert!(
        out.status.success(),
        "pdftotext failed on {}",
        pdf.display()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `regwatch [--config CFG] draft KIND FILE --incident ID --now NOW --out OUT EXTRA...`.
pub fn draft(
    kind: &str,
    cfg: Option<&str>,
    file: &str,
    id: &str,
    out: &Path,
    extra: &[&str],
) -> Run {
    let mut args: Vec<&str> = Vec::new();
    if let Some(c) = cfg {
        args.extend(["--config", c]);
    }
    let out = out.to_str().unwrap();
    args.extend([
        "draft",
        kind,
        file,
        "--incident",
        id,
        "--now",
        NOW,
        "--out",
        out,
    ]);
    args.extend_from_slice(extra);
    regwatch(&args)
}

/// The Subject header of a raw message (unfolded).
pub fn subject(raw: &str) -> String {
    let mut out = String::new();
    let mut in_subject = false;
    for line in raw.lines() {
        if line.is_empty() {
            break;
        }
        if in_subject && (line.starts_with(' ') || line.starts_with('\t')) {
            out.push_str(line.trim_start());
            continue;
        }
        in_subject = line.to_ascii_lowercase().starts_with("subject:");
        if in_subject {
            out.push_str(line["subject:".len()..].trim());
        }
    }
    out
}

/// Runs `regwatch ARGS` from the repository root with standard output on a real
/// pseudo-terminal (tests/support/pty_run.py), as a person at a terminal would; `env` as
/// for [`regwatch_env`]. The terminal's `\r\n` line ends are turned back into `\n`.
pub fn regwatch_on_terminal(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("tests/support/pty_run.py"))
        .arg(env!("CARGO_BIN_EXE_regwatch"))
        .args(args)
        .current_dir(root())
        .env_remove("REGWATCH_CONFIG")
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .expect("python3 is needed for the terminal tests");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Fails unless no line of `text` is wider than `width` characters.
pub fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "a line is wider than {width}: {line:?}\n{text}"
        );
    }
}
