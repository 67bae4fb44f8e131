//! `regwatch report`: the monthly report on the sample month, and its safety properties.

mod common;
use common::*;

use sha2::{Digest, Sha256};
use std::path::Path;

fn report(args: &[&str], out: &Path) -> Run {
    let mut all = vec![
        "report",
        "--month",
        "2026-11",
        "--now",
        NOW,
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    regwatch(&all)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn sample_month_report_matches_golden_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let run = report(&["samples/incidents.csv", "--audit", "samples/audit"], &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("wrote"), "{}", run.stdout);
    golden("report-2026-11.md", &read(&out.join("report.md")));
    golden("report-2026-11.json", &read(&out.join("report.json")));

    let json: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    assert_eq!(json["headline"]["incidents"], 23);
    assert_eq!(json["headline"]["tolerance_breaches"], 3);
    assert_eq!(json["inputs"][0]["read"], 25);

    // Section 4 rests on the audit of samples/audit.
    let ai = &json["ai_operations"];
    assert_eq!(ai["worst"].as_array().unwrap().len(), 5);
    assert_eq!(ai["worst"][0]["severity"], "critical");
    assert_eq!(ai["coverage"].as_array().unwrap().len(), 72);
    // 15 from the first guardrail policies, MEASURE 2.10 from the CloudTrail guardrails
    // and the Sigma rules, and 3 more from the Sigma rules (GOVERN 4.3, MANAGE 2.3,
    // MANAGE 3.1).
    assert_eq!(ai["subcategories_covered"], 19);
    let by_policy = ai["by_policy"].as_array().unwrap();
    let count = |id: &str| {
        by_policy.iter().find(|p| p["id"] == id).unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    assert!(count("destructive-prod-without-approval") >= 3);
    assert_eq!(count("self-approval"), 1);
    let metrics = ai["metrics"].as_array().unwrap();
    assert!(metrics.iter().any(|m| m["driven_by"] == "ai_agent"));
    assert!(metrics.iter().any(|m| m["driven_by"] == "human"));
    assert!(json["headline"]["high_severity_findings"].as_u64().unwrap() >= 10);
    // The audit logs are inputs of the report too.
    let manifest_text = read(&out.join("manifest.json"));
    assert!(manifest_text.contains("samples/audit/k8s/audit-prod-cluster.jsonl"));

    // Every output's hash in the manifest is the hash of the file on disk.
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&out.join("manifest.json"))).unwrap();
    let outputs = manifest["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 4);
    for o in outputs {
        let bytes = std::fs::read(out.join(o["path"].as_str().unwrap())).unwrap();
        assert_eq!(o["sha256"], format!("{:x}", Sha256::digest(&bytes)));
    }
    let inputs: Vec<&str> = manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert!(inputs.contains(&"samples/incidents.csv"));
    assert!(inputs.iter().any(|p| p.ends_with("regimes.toml")));
    let csv_hash = format!(
        "{:x}",
        Sha256::digest(std::fs::read(root().join("samples/incidents.csv")).unwrap())
    );
    assert!(manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["sha256"] == csv_hash));
}

#[test]
fn html_report_is_self_contained_and_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let run = report(&["samples/incidents.csv", "--audit", "samples/audit"], &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = read(&out.join("report.html"));
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let h2 = scraper::Selector::parse("h2").unwrap();
    let headings: Vec<String> = doc.select(&h2).map(|e| e.text().collect()).collect();
    assert_eq!(
        headings,
        [
            "1. Executive summary",
            "2. Regulatory deadlines",
            "3. Operational resilience",
            "4. AI operations",
            "5. Breach register (UK GDPR Art. 33(5))",
            "6. Data quality"
        ]
    );
    // No network: nothing is loaded from elsewhere.
    let any = scraper::Selector::parse("[src], [href], link, script, iframe, img").unwrap();
    assert_eq!(doc.select(&any).count(), 0);
    assert!(!html.contains("url("));
    // Charts are inline SVG: the ICO chart plus one per disrupted service.
    let svg = scraper::Selector::parse("svg").unwrap();
    assert!(doc.select(&svg).count() >= 2);
}

#[test]
fn hostile_input_is_inert_in_every_report_format() {
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    // Audit logs are input too: what an agent's log says lands in section 4.
    let audit = dir.path().join("hostile-audit.jsonl");
    std::fs::write(
        &audit,
        r#"{"timestamp":"2026-11-10T10:00:00Z","actor":"<script>alert(1)</script>","actor_type":"ai_agent","action":"<img src=x onerror=alert(2)>","operation":"delete","resource":"[phish](http://evil.example)","environment":"prod","change_id":"=HYPERLINK(1)"}
"#,
    )
    .unwrap();
    let run = regwatch(&[
        "--config",
        &cfg,
        "report",
        "--audit",
        audit.to_str().unwrap(),
        "tests/fixtures/hostile.csv",
        "--month",
        "2026-11",
        "--now",
        NOW,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = read(&out.join("report.html"));
    let md = read(&out.join("report.md"));
    assert!(!html.contains("<script>"), "raw script tag");
    assert!(!html.contains("<img"), "raw img tag");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Markdown is escaped for Markdown: every `<` has a backslash, so no tag forms when
    // it is rendered, and the text reads as written.
    assert_eq!(md.matches('<').count(), md.matches("\\<").count(), "{md}");
    assert!(md.contains("\\<script>alert(1)\\</script>"), "{md}");
    assert!(!md.contains("&lt;"), "{md}");
    assert!(!md.contains("[phish](http"));
    assert!(
        html.contains("[phish](http://evil.example)"),
        "the audit finding is in section 4"
    );
    let doc = scraper::Html::parse_document(&html);
    let script = scraper::Selector::parse("script, img").unwrap();
    assert_eq!(doc.select(&script).count(), 0);
}

#[test]
fn a_failed_run_leaves_the_previous_report_intact() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    assert_eq!(report(&["samples/incidents.csv"], &out).code, 0);
    let before = read(&out.join("report.json"));
    // A broken template: the run fails after reading everything.
    let bad = dir.path().join("templates");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(
        root().join("templates/report.md.hbs"),
        bad.join("report.md.hbs"),
    )
    .unwrap();
    std::fs::write(
        bad.join("report.html.hbs"),
        "{{#each clocks}}{{no_such_field}}{{/each}}",
    )
    .unwrap();
    let run = report(
        &[
            "samples/incidents.csv",
            "--templates",
            bad.to_str().unwrap(),
            "--now",
            "2026-11-29T12:00:00Z",
        ],
        &out,
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert_eq!(read(&out.join("report.json")), before);
    // No staging folders left behind.
    let stray: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".regwatch"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn pdf_report_has_real_text_sections_page_numbers_and_repeated_headers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let run = report(&["samples/incidents.csv", "--audit", "samples/audit"], &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pdf = out.join("report.pdf");
    assert!(run.stdout.contains("report.pdf"), "{}", run.stdout);
    let text = pdftotext(&pdf, &["-layout"]);
    for heading in [
        "Compliance report: November 2026",
        "1. Executive summary",
        "2. Regulatory deadlines",
        "Hours from awareness to ICO notification",
        "3. Operational resilience",
        "4. AI operations",
        "The worst five",
        "NIST AI RMF 1.0 coverage",
        "Change metrics: AI-driven against human changes",
        "Change failure rate (% of production changes",
        "5. Breach register (UK GDPR Art. 33(5))",
        "6. Data quality",
    ] {
        assert!(text.contains(heading), "PDF lacks {heading:?}");
    }
    // Key figures, as selectable text.
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = squash(&text);
    assert!(flat.contains("Incidents 23 2 +21"), "{flat}");
    assert!(flat.contains("Impact tolerance breaches 3 0 +3"));
    assert!(
        flat.contains("samples/incidents.csv incidents 25 25 0 0 0"),
        "{flat}"
    );
    assert!(flat.contains("limit 72 h"));
    assert!(
        flat.contains("19 of 72 subcategories have evidence"),
        "{flat}"
    );

    // Every page carries the period, the generation time and "Page i of N".
    let pages = text.split('\u{c}').filter(|p| !p.trim().is_empty()).count();
    assert!(
        pages >= 3,
        "the sample month fills several pages, got {pages}"
    );
    for i in 1..=pages {
        let p = pdftotext(
            &pdf,
            &["-layout", "-f", &i.to_string(), "-l", &i.to_string()],
        );
        assert!(p.contains(&format!("Page {i} of {pages}")), "page {i}: {p}");
        assert!(p.contains("period 2026-11-01 00:00 GMT (+00:00) to 2026-12-01 00:00 GMT (+00:00)"));
        assert!(p.contains("Generated 2026-11-28 12:00 GMT (+00:00) by regwatch"));
    }
    // The deadlines table runs over several pages and repeats its header row on each.
    let header = "Incident Regime Clock Deadline Status Time";
    let repeats = (1..=pages)
        .filter(|i| {
            squash(&pdftotext(
                &pdf,
                &["-layout", "-f", &i.to_string(), "-l", &i.to_string()],
            ))
            .contains(header)
        })
        .count();
    assert!(repeats >= 2, "header row on {repeats} page(s)");
}
