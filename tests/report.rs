//! `regwatch report`: the monthly report on the sample month, and its safety properties.

mod common;
use common::*;

use sha2::{Digest, Sha256};
use std::path::Path;

fn report(args: &[&str], out: &Path) -> Run {
    report_in(None, args, out)
}

/// `regwatch [--config CFG] report ARGS --month 2026-11 --now NOW --out OUT`.
fn report_in(cfg: Option<&str>, args: &[&str], out: &Path) -> Run {
    let mut all = match cfg {
        Some(cfg) => vec!["--config", cfg],
        None => Vec::new(),
    };
    all.extend_from_slice(&[
        "report",
        "--month",
        "2026-11",
        "--now",
        NOW,
        "--out",
        out.to_str().unwrap(),
    ]);
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

fn select<'a>(doc: &'a scraper::Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    let sel = scraper::Selector::parse(css).unwrap();
    doc.select(&sel).collect()
}

fn text_of(e: &scraper::ElementRef) -> String {
    e.text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The column headings of every table in the HTML, but the folded one (a list in the PDF).
fn html_table_headers(html: &str) -> Vec<Vec<String>> {
    let doc = scraper::Html::parse_document(html);
    let folded = select(&doc, "details table");
    select(&doc, "table")
        .into_iter()
        .filter(|t| !folded.contains(t))
        .map(|t| {
            let th = scraper::Selector::parse("th").unwrap();
            t.select(&th).map(|h| text_of(&h)).collect()
        })
        .collect()
}

#[test]
fn pdf_report_keeps_to_its_margins_keeps_headings_with_content_and_has_every_html_column() {
    let cfg = config();
    // The sample month, and a month of incidents and audit logs with very long ARNs, S3
    // paths and evidence paths (tests/fixtures/long-tokens).
    let long_arn = "arn:aws:s3:::hp-prod-customer-exports-eu-west-2-0123456789abcdef0123456789abcdef/exports/2026/11/10/full/customers-full-export-000000000000000000000001.csv.gz";
    for (cfg, args, must_hold) in [
        (
            None,
            vec!["samples/incidents.csv", "--audit", "samples/audit"],
            None,
        ),
        (
            Some(cfg.as_str()),
            vec![
                "tests/fixtures/long-tokens/incidents.csv",
                "--audit",
                "tests/fixtures/long-tokens/audit",
            ],
            Some(long_arn),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report");
        let run = report_in(cfg, &args, &out);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let pdf = out.join("report.pdf");
        let pages = pdf::pages(&pdf);
        assert!(pages.len() >= 2, "{args:?}");
        let outside = pdf::outside_margins(&pages);
        assert!(
            outside.is_empty(),
            "{args:?}: words past the margins: {outside:?}"
        );
        let alone = pdf::headings_ending_a_page(&pages);
        assert!(
            alone.is_empty(),
            "{args:?}: headings at the foot of a page: {alone:?}"
        );
        if let Some(token) = must_hold {
            // The long tokens are all there, broken across lines, not cut off.
            let joined: String = pages
                .iter()
                .flat_map(|p| p.body().into_iter().map(|l| l.text().replace(' ', "")))
                .collect();
            assert!(joined.contains(&format!("Resources:{token}")), "{joined}");
        }
        // Every table of the HTML is in the PDF with all its column headings.
        let html = read(&out.join("report.html"));
        let tables = html_table_headers(&html);
        assert!(tables
            .iter()
            .any(|t| t.contains(&"People affected".to_string())));
        for headers in &tables {
            assert!(
                pdf::has_header_row(&pages, headers, 40.0),
                "{args:?}: the PDF has no table with the columns {headers:?}"
            );
        }
        // The document's creation date is the generation time (--now).
        let meta = pdftotext(&pdf, &["-bbox-layout"]);
        assert!(
            meta.contains(r#"<meta name="CreationDate" content="2026-11-28T12:00:00Z"/>"#),
            "{}",
            &meta[..meta.len().min(800)]
        );
    }
}

#[test]
fn report_opens_with_a_verdict_and_sorts_clocks_by_urgency() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let run = report(&["samples/incidents.csv", "--audit", "samples/audit"], &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = "3 overdue and 6 due within 24 hours";
    let html = read(&out.join("report.html"));
    let doc = scraper::Html::parse_document(&html);
    // The verdict comes before section 1, highlighted, with the nine clocks.
    let verdict = select(&doc, "section.verdict.urgent");
    assert_eq!(verdict.len(), 1);
    assert!(html.find("id=\"verdict\"").unwrap() < html.find("1. Executive summary").unwrap());
    assert!(text_of(&verdict[0]).contains(summary));
    let rows = select(&doc, "section.verdict tbody tr");
    assert_eq!(rows.len(), 9);
    let md = read(&out.join("report.md"));
    assert!(md.find(summary).unwrap() < md.find("## 1. Executive summary").unwrap());
    let flat = pdftotext(&out.join("report.pdf"), &[])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.find(summary).unwrap() < flat.find("1. Executive summary").unwrap());

    // Section 2: overdue first, then the open clocks by due time; the urgent ones marked.
    let json: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    let clocks = json["clocks"].as_array().unwrap();
    let rank = |s: &str| match s {
        "overdue" => 0,
        "due-soon" | "due" => 1,
        "not-started" => 2,
        _ => 3,
    };
    let ranks: Vec<i32> = clocks
        .iter()
        .map(|c| rank(c["status"].as_str().unwrap()))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    let open: Vec<&str> = clocks
        .iter()
        .filter(|c| rank(c["status"].as_str().unwrap()) == 1)
        .map(|c| c["deadline"].as_str().unwrap())
        .collect();
    assert!(
        open.len() > 5 && open.windows(2).all(|w| w[0] <= w[1]),
        "{open:?}"
    );
    let urgent_rows = select(&doc, "h2 ~ table tbody tr.urgent").len();
    assert_eq!(urgent_rows, 9, "the same nine, highlighted in section 2");
    let first_rows: Vec<String> = select(&doc, "table")[2]
        .select(&scraper::Selector::parse("tbody tr").unwrap())
        .take(9)
        .map(|r| r.value().attr("class").unwrap_or("").to_string())
        .collect();
    assert!(first_rows.iter().all(|c| c == "urgent"), "{first_rows:?}");

    // A month with nothing pressing says so, in every format.
    let quiet = dir.path().join("quiet.csv");
    std::fs::write(
        &quiet,
        "id,title,aware_at,personal_data\nQ-1,Quiet,2026-11-02T09:00:00Z,false\n",
    )
    .unwrap();
    let out = dir.path().join("quiet");
    let run = report(&[quiet.to_str().unwrap()], &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let clear = "Nothing overdue or due within 24 hours";
    let doc = scraper::Html::parse_document(&read(&out.join("report.html")));
    assert!(text_of(&select(&doc, "section.verdict.clear")[0]).contains(clear));
    assert!(read(&out.join("report.md")).contains(&format!("> **{clear}**")));
    assert!(pdftotext(&out.join("report.pdf"), &[]).contains(clear));
}

#[test]
fn report_keys_its_charts_folds_coverage_and_accounts_for_every_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let run = report(&["samples/incidents.csv", "--audit", "samples/audit"], &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = read(&out.join("report.html"));
    let md = read(&out.join("report.md"));
    let flat = pdftotext(&out.join("report.pdf"), &["-layout"])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let rows_printed = pdf::visual_lines(&pdf::pages(&out.join("report.pdf")));
    let printed = |needle: &str| rows_printed.iter().any(|l| l.contains(needle));
    let doc = scraper::Html::parse_document(&html);

    // The ICO chart tells notified from not yet notified, in its key and its bars.
    let ico = text_of(&select(&doc, "svg")[0]);
    for key in [
        "notified within the limit",
        "notified over the limit",
        "not yet notified (hours so far)",
    ] {
        assert!(ico.contains(key), "{ico}");
        assert!(flat.contains(key), "PDF key lacks {key:?}");
    }
    assert!(
        html.contains(r#"class="over open""#),
        "HP-2026-1115 is late and not notified"
    );
    assert!(
        md.contains("| HP-2026-1115 | 192.8 | not yet (hours so far) |"),
        "{md}"
    );
    assert!(md.contains("| HP-2026-1101 | 32.2 | notified |"));

    // NIST AI RMF coverage: 19 rows with evidence, the other 53 folded.
    let rows = select(&doc, "h3 + p + table tbody tr")
        .into_iter()
        .filter(|r| {
            text_of(r).starts_with("GOVERN")
                || text_of(r).starts_with("MAP")
                || text_of(r).starts_with("MEASURE")
                || text_of(r).starts_with("MANAGE")
        })
        .count();
    assert_eq!(rows, 19);
    let folded = select(&doc, "details.no-evidence");
    assert_eq!(folded.len(), 1);
    assert!(
        text_of(&select(&doc, "details.no-evidence summary")[0]).starts_with("53 subcategories")
    );
    assert_eq!(select(&doc, "details.no-evidence tbody tr").len(), 53);
    let listed = "No evidence from any policy for 53 subcategories: GOVERN 1.1, GOVERN 1.2,";
    assert!(md.contains(listed), "{md}");
    assert!(flat.contains(listed), "{flat}");
    assert!(
        !md.contains("| none |"),
        "no row for a subcategory without evidence"
    );

    // Data quality: every input file, the audit logs with records read, accepted,
    // rejected and skipped, summing to what the audit read; files not read, with why.
    let json: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    let inputs = json["inputs"].as_array().unwrap();
    let audit: Vec<&serde_json::Value> = inputs
        .iter()
        .filter(|i| i["kind"].as_str().unwrap().starts_with("audit"))
        .collect();
    let read_sum: u64 = audit.iter().map(|i| i["read"].as_u64().unwrap()).sum();
    // The audit's own summary line says how many records it read in all.
    let summary = json["ai_operations"]["read"].as_str().unwrap_or_default();
    let total: String = summary
        .split(" file(s), ")
        .nth(1)
        .and_then(|r| r.split(" record(s)").next())
        .unwrap_or_default()
        .replace(',', "");
    assert_eq!(read_sum.to_string(), total, "{summary}");
    assert!(read_sum > 6000, "{read_sum}");
    for i in &audit {
        let n = |k: &str| i[k].as_u64().unwrap();
        assert_eq!(
            n("read"),
            n("accepted") + n("rejected") + n("skipped"),
            "{i}"
        );
    }
    assert!(audit.iter().any(|i| i["file"] == "samples/audit/README.md"
        && i["note"].as_str().unwrap().starts_with("not read:")));
    let html_inputs: Vec<String> = select(&doc, "h2 ~ table tbody tr td:first-child")
        .iter()
        .map(text_of)
        .collect();
    for i in inputs {
        assert!(
            html_inputs.contains(&i["file"].as_str().unwrap().to_string()),
            "{i}"
        );
    }
    assert!(
        md.contains(
            "| samples/audit/k8s/audit-prod-cluster.jsonl | audit: k8s | 950 | 944 | 1 | 5 | 0 |"
        ),
        "{md}"
    );
    assert!(md
        .contains("| samples/audit/native/changes-2026-11.jsonl | audit: jsonl | 5,579 | 5,579 |"));
    assert!(printed("audit: k8s 950 944 1 5 0"), "{rows_printed:#?}");

    // October had no audit logs: "no logs", not 0.
    let row = "High and critical audit findings | 37 | no logs | not comparable |";
    assert!(md.contains(row), "{md}");
    assert!(printed(
        "High and critical audit findings 37 no logs not comparable"
    ));
    let html_row = select(&doc, "tbody tr")
        .into_iter()
        .map(|r| text_of(&r))
        .find(|t| t.starts_with("High and critical audit findings"))
        .unwrap();
    assert_eq!(
        html_row,
        "High and critical audit findings 37 no logs not comparable"
    );

    // Counts carry thousands separators (2,400,000 people in HP-2026-1101).
    assert!(md.contains("people: 2,400,000; records: 3,150"));
    assert!(html.contains("people: 2,400,000"));
    assert!(printed("2,400,000;"), "{rows_printed:#?}");
    assert!(printed("3,150)"), "{rows_printed:#?}");
    assert!(flat.contains("6,666 record(s) read"));
}

#[test]
fn markdown_is_escaped_for_markdown_not_html() {
    let cfg = fixture("regwatch-special-name.toml").display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let run = report_in(
        Some(&cfg),
        &["tests/fixtures/long-tokens/incidents.csv"],
        &out,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let md = read(&out.join("report.md"));
    // The organisation "H&P <x> Ltd" reads as written; only the `<` a Markdown renderer
    // would take for a tag has a backslash. (The sample's "H&P Pay": the golden report.md.)
    assert!(md.contains("H&P \\<x> Ltd. Period"), "{md}");
    assert!(!md.contains("&amp;") && !md.contains("&lt;"), "{md}");
    // HTML stays escaped.
    let html = read(&out.join("report.html"));
    assert!(html.contains("H&amp;P &lt;x&gt; Ltd"));
    assert!(!html.contains("<x>"));
    // And the PDF prints it as it is.
    assert!(pdftotext(&out.join("report.pdf"), &[]).contains("H&P <x> Ltd"));
}
