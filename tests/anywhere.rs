//! Runs anywhere (issue 23): the binary carries the default mappings and templates, a
//! folder overrides them file by file, and `init` and `check` set up and validate a folder.

mod common;

use std::path::Path;

use common::{regwatch, regwatch_in, root, NOW};
use serde_json::Value;

/// (incident, regime, clock, service, due, status) of every deadline, in order.
fn clocks(json: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {} {} {} {} {}",
                d["incident_id"], d["regime"], d["clock"], d["service"], d["due_at"], d["status"]
            )
        })
        .collect()
}

/// The checkout's config without its `mappings` and `templates` folders, and its services
/// file, in `dir`.
fn config_without_folders(dir: &Path) {
    let text = std::fs::read_to_string(root().join("regwatch.toml")).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("mappings =") && !l.starts_with("templates ="))
        .collect();
    std::fs::write(dir.join("regwatch.toml"), kept.join("\n")).unwrap();
    std::fs::create_dir_all(dir.join("samples")).unwrap();
    std::fs::copy(
        root().join("samples/services.toml"),
        dir.join("samples/services.toml"),
    )
    .unwrap();
    std::fs::copy(
        root().join("samples/incidents.csv"),
        dir.join("incidents.csv"),
    )
    .unwrap();
}

#[test]
fn deadlines_from_any_folder_match_the_checkout() {
    let checkout = regwatch(&[
        "deadlines",
        "samples/incidents.csv",
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    assert_eq!(checkout.code, 1, "{}", checkout.stderr);
    assert!(
        checkout
            .stderr
            .contains("mappings from ./mappings: regimes.toml"),
        "{}",
        checkout.stderr
    );

    // The same config, but no mappings folder anywhere: the built-in rules.
    let dir = tempfile::tempdir().unwrap();
    config_without_folders(dir.path());
    let run = regwatch_in(
        dir.path(),
        &[
            "deadlines",
            "incidents.csv",
            "--now",
            NOW,
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!run.stderr.contains("mappings from"), "{}", run.stderr);
    assert_eq!(clocks(&run.stdout), clocks(&checkout.stdout));
    assert!(clocks(&run.stdout).len() > 20);

    // No config at all: the same as the checkout's mappings with an empty config.
    let bare = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("samples/incidents.csv"),
        bare.path().join("incidents.csv"),
    )
    .unwrap();
    let run = regwatch_in(
        bare.path(),
        &[
            "deadlines",
            "incidents.csv",
            "--now",
            NOW,
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let empty = bare.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let from_folder = regwatch(&[
        "--config",
        empty.to_str().unwrap(),
        "deadlines",
        "samples/incidents.csv",
        "--mappings",
        "mappings",
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    assert_eq!(clocks(&run.stdout), clocks(&from_folder.stdout));
}

#[test]
fn report_from_any_folder_lists_the_built_in_files_with_their_hashes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("samples/incidents.csv"),
        dir.path().join("incidents.csv"),
    )
    .unwrap();
    let run = regwatch_in(
        dir.path(),
        &[
            "report",
            "incidents.csv",
            "--month",
            "2026-11",
            "--now",
            NOW,
            "--out",
            "out",
        ],
    );
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("HP-2026-"), "{html}");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/manifest.json")).unwrap(),
    )
    .unwrap();
    let inputs = manifest["inputs"].as_array().unwrap();
    let regimes = inputs
        .iter()
        .find(|i| i["path"] == "builtin:mappings/regimes.toml")
        .unwrap_or_else(|| panic!("{inputs:?}"));
    let bytes = std::fs::read(root().join("mappings/regimes.toml")).unwrap();
    use sha2::Digest;
    assert_eq!(
        regimes["sha256"].as_str().unwrap(),
        format!("{:x}", sha2::Sha256::digest(&bytes))
    );
    assert_eq!(regimes["bytes"], bytes.len() as u64);
}

#[test]
fn a_mappings_folder_overrides_only_the_files_it_has() {
    let dir = tempfile::tempdir().unwrap();
    config_without_folders(dir.path());
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    // The firm's own internal target for the ICO: 48 hours, not 72.
    let regimes = std::fs::read_to_string(root().join("mappings/regimes.toml")).unwrap();
    assert!(regimes.contains("period = \"72 hours\""));
    std::fs::write(
        mine.join("regimes.toml"),
        regimes.replacen("period = \"72 hours\"", "period = \"48 hours\"", 1),
    )
    .unwrap();
    let args = [
        "deadlines",
        "incidents.csv",
        "--now",
        NOW,
        "--format",
        "json",
        "--mappings",
        "mine",
    ];
    let run = regwatch_in(dir.path(), &args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("mappings from mine: regimes.toml; built in: uk-bank-holidays.json"),
        "{}",
        run.stderr
    );
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let all = v["deadlines"].as_array().unwrap();
    assert!(
        all.iter().any(|d| d["period"] == "48 hours"),
        "{}",
        run.stdout
    );
    // Services still come from the config: the impact tolerance clocks are there.
    assert!(
        all.iter().any(|d| !d["service"].is_null()),
        "{}",
        run.stdout
    );
}

#[test]
fn init_creates_the_files_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let run = regwatch_in(dir.path(), &["init", "site", "--copy-defaults"]);
    assert_eq!(run.code, 0, "{run:?}");
    let site = dir.path().join("site");
    for f in [
        "regwatch.toml",
        "incidents.csv",
        "services.toml",
        "mappings/regimes.toml",
        "templates/report.html.hbs",
    ] {
        assert!(site.join(f).exists(), "{f}: {}", run.stdout);
    }
    let header = std::fs::read_to_string(site.join("incidents.csv")).unwrap();
    let sample = std::fs::read_to_string(root().join("samples/incidents.csv")).unwrap();
    assert_eq!(header.lines().next(), sample.lines().next());
    let config = std::fs::read_to_string(site.join("regwatch.toml")).unwrap();
    assert!(config.contains("password_env = \"REGWATCH_SMTP_PASSWORD\""));
    // The new folder checks clean, and a run there works.
    let run = regwatch_in(&site, &["check"]);
    assert_eq!(run.code, 0, "{run:?}");
    // A second run keeps what is there.
    std::fs::write(site.join("regwatch.toml"), "# mine\n").unwrap();
    let run = regwatch_in(dir.path(), &["init", "site"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("kept site/regwatch.toml"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(site.join("regwatch.toml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn check_names_a_broken_file_and_connects_to_the_mail_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    std::fs::write(dir.path().join("mine/regimes.toml"), "[[regime]\n").unwrap();
    let run = regwatch_in(dir.path(), &["check", "--mappings", "mine"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("mine/regimes.toml"), "{}", run.stderr);

    let server = common::SmtpServer::start(&dir.path().join("mail"), None);
    let config =
        |port: u16| format!("[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n");
    std::fs::write(dir.path().join("regwatch.toml"), config(server.port)).unwrap();
    let run = regwatch_in(dir.path(), &["check", "--smtp"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("smtp: connected"), "{}", run.stdout);
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(dir.path().join("regwatch.toml"), config(closed)).unwrap();
    let run = regwatch_in(dir.path(), &["check", "--smtp"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{closed}")),
        "{}",
        run.stderr
    );
    server.stop();
}
