//! `regwatch register` and `regwatch draft ico`: the real binary on fixture files.

mod common;
use common::*;

#[test]
fn register_lists_every_personal_data_breach_with_its_decisions() {
    let cfg = config();
    let run = regwatch(&[
        "--config",
        &cfg,
        "register",
        "tests/fixtures/incidents.csv",
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    // F-1, F-2, F-4, F-5, F-7 involve personal data; F-3, F-6, F-8 do not.
    assert_eq!(ids, ["F-1", "F-2", "F-4", "F-5", "F-7"]);
    let f7 = &rows[4];
    assert_eq!(f7["ico_status"], "not-applicable");
    assert!(f7["ico_decision"]
        .as_str()
        .unwrap()
        .starts_with("not required: assessed as unlikely"));
    let f5 = &rows[3];
    assert_eq!(f5["ico_decision"], "notified late");
    assert_eq!(f5["delay_reason"], serde_json::Value::Null);
    let f2 = &rows[1];
    assert_eq!(f2["subjects_status"], "overdue");
}

#[test]
fn register_month_filter_uses_local_month_bounds() {
    let cfg = config();
    let run = regwatch(&[
        "--config",
        &cfg,
        "register",
        "tests/fixtures/incidents.csv",
        "--now",
        NOW,
        "--format",
        "json",
        "--month",
        "2026-10",
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], "F-4");
    let run = regwatch(&[
        "--config",
        &cfg,
        "register",
        "tests/fixtures/incidents.csv",
        "--month",
        "2026-13",
    ]);
    assert_eq!(run.code, 2);
}

#[test]
fn register_csv_neutralises_formulas() {
    let cfg = config();
    let run = regwatch(&[
        "--config",
        &cfg,
        "register",
        "tests/fixtures/hostile.csv",
        "--now",
        NOW,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut rdr = csv::Reader::from_reader(run.stdout.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let x1 = rdr.records().next().unwrap().unwrap();
    let cell = |name: &str| x1[headers.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!(
        cell("facts"),
        "'=HYPERLINK(\"http://evil.example\",\"click\")"
    );
    assert_eq!(cell("remedial_action"), "'@SUM(A1)");
    assert_eq!(cell("detected_by"), "'+44 attacker");
    assert_eq!(cell("data_categories"), "health; -1+2");
    for rec in csv::Reader::from_reader(run.stdout.as_bytes()).records() {
        for c in rec.unwrap().iter() {
            assert!(
                !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "unsafe cell {c:?}"
            );
        }
    }
}

#[test]
fn ico_draft_is_written_escaped_and_complete() {
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let run = draft(
        "ico",
        Some(&cfg),
        "tests/fixtures/hostile.csv",
        "X-1",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let md = std::fs::read_to_string(dir.path().join("ico-X-1.md")).unwrap();
    let html = std::fs::read_to_string(dir.path().join("ico-X-1.html")).unwrap();
    let eml = std::fs::read_to_string(dir.path().join("ico-X-1.eml")).unwrap();
    // Hostile input is inert in every format: escaped for HTML in HTML, for Markdown
    // (a backslash before every `<`) in Markdown, where it reads as written.
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(md.matches('<').count(), md.matches("\\<").count(), "{md}");
    assert!(md.contains("\\<script>alert(1)\\</script>"), "{md}");
    assert!(!md.contains("&lt;"), "Markdown is not HTML-escaped: {md}");
    assert!(!md.contains("[phish](http"), "a link must not form: {md}");
    // The clock at the top: aware 20 Nov 09:00, 72 hours, not notified: overdue.
    assert!(
        md.contains("Clock (UK GDPR Art. 33(1)): overdue, late by 5d 03h 00m"),
        "{md}"
    );
    assert!(md.contains("2026-11-23 09:00 GMT (+00:00)"));
    // The checklist names what is missing, including the reasons for the delay.
    assert!(
        md.contains("- [ ] Reasons for the delay (notification after 72 hours)"),
        "{md}"
    );
    assert!(md.contains("- [x] Likely consequences"));
    assert!(md.contains("Special category or criminal offence data:** health"));
    for section in [
        "## 1. About the breach",
        "## 2. How and when you found out",
        "## 3. Personal data and people affected",
        "## 4. Consequences",
        "## 5. Measures taken or proposed",
        "## 6. Telling the people affected (Art. 34)",
        "## 7. Reasons for the delay (Art. 33(1))",
        "## Contact (Art. 33(3)(b))",
    ] {
        assert!(md.contains(section), "missing {section}");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("http://evil.example\">"), "no live link");
    assert!(eml.contains("To: dpo@test.example"));
    assert!(eml.contains("Subject: DRAFT ICO personal data breach report: X-1"));
    assert!(eml.contains("multipart/alternative"));
}

#[test]
fn ico_draft_open_clock_suggests_phased_reporting() {
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let run = draft(
        "ico",
        Some(&cfg),
        "tests/fixtures/hostile.csv",
        "X-2",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("consider phased reporting"),
        "{}",
        run.stdout
    );
    let md = std::fs::read_to_string(dir.path().join("ico-X-2.md")).unwrap();
    assert!(md.contains("Use phased reporting (Art. 33(4))"));
    assert!(md.contains("due, 1d 21h 00m left"), "{md}");
}

#[test]
fn ico_draft_refuses_incidents_without_personal_data_or_unknown() {
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let run = draft(
        "ico",
        Some(&cfg),
        "tests/fixtures/hostile.csv",
        "X-3",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("involves no personal data"),
        "{}",
        run.stderr
    );
    let run = draft(
        "ico",
        Some(&cfg),
        "tests/fixtures/hostile.csv",
        "NOPE",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no incident \"NOPE\""),
        "{}",
        run.stderr
    );
}

#[test]
fn ico_draft_send_goes_to_the_dpo_over_real_smtp() {
    let tmp = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&tmp.path().join("mail"), None);
    let cfg_text = std::fs::read_to_string(fixture("regwatch.toml"))
        .unwrap()
        .replace("port = 2525", &format!("port = {}", server.port))
        .replace(
            "\"../../mappings\"",
            &format!("\"{}/mappings\"", root().display()),
        )
        .replace(
            "\"../../templates\"",
            &format!("\"{}/templates\"", root().display()),
        )
        .replace(
            "\"services.toml\"",
            &format!("\"{}\"", fixture("services.toml").display()),
        );
    let cfg = tmp.path().join("regwatch.toml");
    std::fs::write(&cfg, cfg_text).unwrap();
    let out = tmp.path().join("drafts");
    let run = regwatch(&[
        "--config",
        cfg.to_str().unwrap(),
        "draft",
        "ico",
        "tests/fixtures/hostile.csv",
        "--incident",
        "X-2",
        "--now",
        NOW,
        "--out",
        out.to_str().unwrap(),
        "--send",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let msgs = server.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, ["dpo@test.example"]);
    assert!(subject(&msgs[0].1).starts_with("DRAFT ICO personal data breach report: X-2"));
    // Server gone: --send fails with the delivery exit code, the files are still written.
    server.stop();
    let run = regwatch(&[
        "--config",
        cfg.to_str().unwrap(),
        "draft",
        "ico",
        "tests/fixtures/hostile.csv",
        "--incident",
        "X-2",
        "--now",
        NOW,
        "--out",
        out.to_str().unwrap(),
        "--send",
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(out.join("ico-X-2.eml").exists());
}

#[test]
fn fca_draft_shows_stages_services_and_tolerance_breaches() {
    let dir = tempfile::tempdir().unwrap();
    // The sample coding agent that deleted production: checkout down 13 hours.
    let run = draft(
        "fca",
        None,
        "samples/incidents.csv",
        "HP-2026-1101",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("final report: due (19d 06h 00m left)"),
        "{}",
        run.stdout
    );
    let md = std::fs::read_to_string(dir.path().join("fca-HP-2026-1101-final.md")).unwrap();
    let section = &md[md.find("## Report stages").unwrap()..];
    let stages: Vec<usize> = [
        "**Initial report",
        "**Intermediate report",
        "**Final report",
    ]
    .iter()
    .map(|s| {
        section
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing: {md}"))
    })
    .collect();
    assert!(stages.windows(2).all(|w| w[0] < w[1]), "stages in order");
    assert!(md.contains("| Online checkout and card payments (`checkout`) | 4 hours | 13h 00m | 325.0% | **BREACHED** |"), "{md}");
    assert!(md.contains("**Rehearsal.**"));
    assert!(
        md.contains("**Firm reference number (FRN):** 900001"),
        "{md}"
    );
    assert!(
        md.contains("**Third parties involved:** Cloud database provider"),
        "{md}"
    );
    assert!(
        md.contains("## Before you submit: what is still missing (0)"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.path().join("fca-HP-2026-1101-final.html")).unwrap();
    assert!(html.contains("<thead><tr><th>Service</th>"));
    // An explicit stage.
    let run = draft(
        "fca",
        None,
        "samples/incidents.csv",
        "HP-2026-1101",
        dir.path(),
        &["--stage", "initial"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(dir.path().join("fca-HP-2026-1101-initial.md").exists());
    let run = draft(
        "fca",
        None,
        "samples/incidents.csv",
        "HP-2026-1101",
        dir.path(),
        &["--stage", "bogus"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("the stages are initial, intermediate, final"),
        "{}",
        run.stderr
    );
}

#[test]
fn fca_draft_for_a_firm_outside_the_regime_says_why() {
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let run = draft(
        "fca",
        Some(&cfg),
        "tests/fixtures/incidents.csv",
        "F-1",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("not reportable to the FCA/PRA: the firm is not tagged fca-regulated"),
        "{}",
        run.stdout
    );
}

#[test]
fn redact_pseudonymises_people_in_every_output() {
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let originals = [
        "jane.doe@customer.example",
        "bob.smith@customer.example",
        "Priya Patel",
    ];
    let mut outputs = Vec::new();
    let run = regwatch(&[
        "--config",
        &cfg,
        "register",
        "tests/fixtures/personal.csv",
        "--now",
        NOW,
        "--redact",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    outputs.push(run.stdout.clone());
    let pseudonym = run
        .stdout
        .split([',', ' ', '"'])
        .find(|w| w.ends_with("@redacted.invalid"))
        .expect("a pseudonymised address")
        .to_string();
    let run = regwatch(&[
        "--config",
        &cfg,
        "draft",
        "ico",
        "tests/fixtures/personal.csv",
        "--incident",
        "P-1",
        "--now",
        NOW,
        "--out",
        d.to_str().unwrap(),
        "--redact",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for ext in ["md", "html", "eml"] {
        outputs.push(std::fs::read_to_string(d.join(format!("ico-P-1.{ext}"))).unwrap());
    }
    let out = d.join("report");
    let run = regwatch(&[
        "--config",
        &cfg,
        "report",
        "tests/fixtures/personal.csv",
        "--month",
        "2026-11",
        "--now",
        NOW,
        "--out",
        out.to_str().unwrap(),
        "--redact",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for f in ["report.md", "report.html", "report.json"] {
        outputs.push(std::fs::read_to_string(out.join(f)).unwrap());
    }
    let run = regwatch(&[
        "--config",
        &cfg,
        "deadlines",
        "tests/fixtures/personal.csv",
        "--now",
        NOW,
        "--format",
        "json",
        "--redact",
    ]);
    outputs.push(run.stdout);
    for (i, o) in outputs.iter().enumerate() {
        for name in originals {
            assert!(!o.contains(name), "output {i} still contains {name:?}");
        }
    }
    // The same person has the same pseudonym everywhere, and the name field is replaced.
    assert!(outputs[1].contains(&pseudonym.replace('.', "\\.")) || outputs[1].contains(&pseudonym));
    assert!(outputs[4].contains(&pseudonym));
    assert!(outputs[1].contains("person-"));
    // Without --redact the originals are there (the test can fail).
    let run = regwatch(&[
        "--config",
        &cfg,
        "register",
        "tests/fixtures/personal.csv",
        "--now",
        NOW,
    ]);
    assert!(run.stdout.contains("jane.doe@customer.example"));
}

#[test]
fn drafts_come_as_pdf_with_real_text() {
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let run = draft(
        "ico",
        Some(&cfg),
        "tests/fixtures/hostile.csv",
        "X-1",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = pdftotext(&dir.path().join("ico-X-1.pdf"), &[]);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "DRAFT: personal data breach report to the ICO",
        "Clock (UK GDPR Art. 33(1)): overdue, late by 5d 03h 00m",
        "Reasons for the delay (notification after 72 hours)",
        "7. Reasons for the delay (Art. 33(1))",
        "Page 1 of",
    ] {
        assert!(flat.contains(needle), "PDF lacks {needle:?}: {flat}");
    }
    let run = draft(
        "fca",
        None,
        "samples/incidents.csv",
        "HP-2026-1101",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let flat = pdftotext(&dir.path().join("fca-HP-2026-1101-final.pdf"), &[])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains("BREACHED"), "{flat}");
    // The sample's entity (hp-uk) gives the firm's identifiers.
    assert!(
        flat.contains("Firm reference number (FRN): 900001"),
        "{flat}"
    );
    assert!(
        flat.contains("Legal Entity Identifier (LEI): 2138001EXAMPLE000001"),
        "{flat}"
    );
    assert!(
        flat.contains("Online checkout and card payments (checkout)"),
        "{flat}"
    );
}

fn entities_config() -> String {
    fixture("regwatch-entities.toml").display().to_string()
}

/// The PDF's text on one line, whitespace collapsed.
fn pdf_flat(path: &std::path::Path) -> String {
    pdftotext(path, &[])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn ico_draft_asks_every_question_of_the_ico_form() {
    let cfg = entities_config();
    let dir = tempfile::tempdir().unwrap();
    let run = draft(
        "ico",
        Some(&cfg),
        "tests/fixtures/drafts.csv",
        "G-1",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let md = std::fs::read_to_string(dir.path().join("ico-G-1.md")).unwrap();
    let html = std::fs::read_to_string(dir.path().join("ico-G-1.html")).unwrap();
    let pdf = pdf_flat(&dir.path().join("ico-G-1.pdf"));
    // Every answer, in the Markdown and in the PDF.
    for (md_needle, pdf_needle) in [
        ("**Initial report** (the ICO has not been notified yet)", "Report type: Initial report (the ICO has not been notified yet)"),
        ("**Categories of people affected:** customers; children; vulnerable adults", "Categories of people affected: customers; children; vulnerable adults"),
        ("**Including children or vulnerable adults:** children; vulnerable adults", "Including children or vulnerable adults: children; vulnerable adults"),
        ("**Staff involved:** yes: an adviser was phished", "Staff involved: yes: an adviser was phished"),
        ("**Staff data protection training:** Phishing and data protection training completed March 2026", "Staff data protection training: Phishing and data protection training completed March 2026"),
        ("**Cyber incident:** yes: phishing", "Cyber incident: yes: phishing"),
        ("**Effect on confidentiality, integrity and availability:** Confidentiality lost for forwarded messages; integrity and availability unaffected", "Effect on confidentiality, integrity and availability: Confidentiality lost for forwarded messages; integrity and availability unaffected"),
        ("**Safeguards in place before the breach:** MFA and external-forwarding alerts", "Safeguards in place before the breach: MFA and external-forwarding alerts"),
        ("**Other organisations told (police, NCSC, FCA, others):** Action Fraud (police); NCSC", "Other organisations told (police, NCSC, FCA, others): Action Fraud (police); NCSC"),
        // The entity's name and ICO registration number win; the address is the organisation's.
        ("**Name:** Fixture Bank Ltd", "Name: Fixture Bank Ltd"),
        ("**ICO registration number:** ZB123456", "ICO registration number: ZB123456"),
        ("**Address:** 2 Test Lane, Leeds LS1 1AA", "Address: 2 Test Lane, Leeds LS1 1AA"),
    ] {
        assert!(md.contains(md_needle), "Markdown lacks {md_needle:?}: {md}");
        assert!(pdf.contains(pdf_needle), "PDF lacks {pdf_needle:?}: {pdf}");
    }
    assert!(
        html.contains(
            "<dt>Categories of people affected</dt><dd>customers; children; vulnerable adults</dd>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<dt>Safeguards in place before the breach</dt>"),
        "{html}"
    );
    assert!(
        !md.contains("ZA999999") && !pdf.contains("ZA999999"),
        "the organisation's number is not the entity's"
    );
    // Each form question is on the checklist, answered.
    for item in [
        "- [x] Organisation's address (ICO form; field `\\[organisation\\] address`)",
        "- [x] ICO registration number (data protection fee) (ICO form; field `\\[\\[entities\\]\\] ico\\_registration`)",
        "- [x] Categories of people affected",
        "- [x] Whether staff were involved",
        "- [x] Data protection training of the staff involved",
        "- [x] Whether it was a cyber incident",
        "- [x] Effect on the confidentiality, integrity and availability of the data",
        "- [x] Safeguards in place before the breach",
        "- [x] Other organisations told",
    ] {
        assert!(md.contains(item), "checklist lacks {item:?}: {md}");
    }
    // Risk not assessed: no risk conclusion anywhere, and it is on the checklist.
    for text in [&md, &html, &pdf] {
        let lower = text.to_lowercase();
        assert!(!lower.contains("likely high risk"), "{text}");
        assert!(!lower.contains("high risk)"), "{text}");
        assert!(!lower.contains("assessed as high"), "{text}");
    }
    assert!(
        md.contains("**Risk to individuals:** not yet assessed"),
        "{md}"
    );
    assert!(
        pdf.contains("Risk to individuals: not yet assessed"),
        "{pdf}"
    );
    assert!(
        md.contains("Not yet decided: the risk to individuals is not yet assessed"),
        "{md}"
    );
    assert!(
        md.contains("- [ ] Risk to individuals assessed: not yet assessed"),
        "{md}"
    );
    assert!(
        pdf.contains("Risk to individuals assessed: not yet assessed"),
        "{pdf}"
    );
    // The count on the command line is the checklist's unticked items.
    let missing = md.matches("- [ ] ").count();
    assert!(
        run.stdout
            .contains(&format!("checklist: {missing} item(s) missing")),
        "{} vs {missing}",
        run.stdout
    );
}

#[test]
fn ico_draft_follow_up_and_missing_form_answers_are_counted() {
    let cfg = entities_config();
    let dir = tempfile::tempdir().unwrap();
    // G-2: the ICO was notified, so this is a follow-up; staff were not involved and it was
    // not a cyber incident, so training and CIA are not asked; the rest is missing.
    let run = draft(
        "ico",
        Some(&cfg),
        "tests/fixtures/drafts.csv",
        "G-2",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let md = std::fs::read_to_string(dir.path().join("ico-G-2.md")).unwrap();
    let pdf = pdf_flat(&dir.path().join("ico-G-2.pdf"));
    assert!(
        md.contains("**Follow-up report** (the ICO was notified 2026-11-21 09:00 GMT (+00:00))"),
        "{md}"
    );
    assert!(pdf.contains("Report type: Follow-up report"), "{pdf}");
    assert!(md.contains("ICO case reference: _missing_"), "{md}");
    for item in [
        "- [ ] Categories of people affected",
        "- [x] Whether staff were involved",
        "- [ ] Safeguards in place before the breach",
        "- [ ] Other organisations told",
        "- [ ] ICO case reference of the initial report",
        // The entity has no ICO registration number: the organisation's stands in.
        "- [x] ICO registration number (data protection fee) (ICO form; field `\\[organisation\\] ico\\_registration`)",
    ] {
        assert!(md.contains(item), "checklist lacks {item:?}: {md}");
    }
    assert!(
        !md.contains("Data protection training of the staff involved"),
        "{md}"
    );
    assert!(!md.contains("Effect on confidentiality"), "{md}");
    assert!(!pdf.contains("Staff data protection training"), "{pdf}");
    assert!(
        md.contains("**Categories of people affected:** _missing_"),
        "{md}"
    );
    assert!(
        pdf.contains("Categories of people affected: MISSING"),
        "{pdf}"
    );
    // Risk assessed as high: the decision may say so.
    assert!(md.contains("Required (assessed as high risk)"), "{md}");
    let missing = md.matches("- [ ] ").count();
    assert!(
        run.stdout
            .contains(&format!("checklist: {missing} item(s) missing")),
        "{} vs {missing}",
        run.stdout
    );
    // G-3: stated as a follow-up though not notified; no entity named among two, so the
    // organisation's details are used and the draft says so.
    let run = draft(
        "ico",
        Some(&cfg),
        "tests/fixtures/drafts.csv",
        "G-3",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let md = std::fs::read_to_string(dir.path().join("ico-G-3.md")).unwrap();
    let pdf = pdf_flat(&dir.path().join("ico-G-3.pdf"));
    assert!(md.contains("**Follow-up report** (as the incident's ico\\_report\\_type says). ICO case reference: IC-123456-A1B2."), "{md}");
    assert!(pdf.contains("ICO case reference: IC-123456-A1B2"), "{pdf}");
    assert!(md.contains("**Name:** Fixture Group plc"), "{md}");
    assert!(md.contains("**ICO registration number:** ZA999999"), "{md}");
    assert!(
        md.contains("- [ ] Reporting entity named (no entity given"),
        "{md}"
    );
}

#[test]
fn fca_draft_carries_the_entitys_identifiers_threshold_and_customers() {
    let cfg = entities_config();
    let dir = tempfile::tempdir().unwrap();
    let run = draft(
        "fca",
        Some(&cfg),
        "tests/fixtures/drafts.csv",
        "G-1",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stem = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("fca-G-1-") && n.ends_with(".md"))
        .expect("the FCA draft");
    let md = std::fs::read_to_string(dir.path().join(&stem)).unwrap();
    let html = std::fs::read_to_string(dir.path().join(stem.replace(".md", ".html"))).unwrap();
    let pdf = pdf_flat(&dir.path().join(stem.replace(".md", ".pdf")));
    for (md_needle, pdf_needle) in [
        (
            "**Firm reference number (FRN):** 123456",
            "Firm reference number (FRN): 123456",
        ),
        (
            "**Legal Entity Identifier (LEI):** 2138009FIXTURE000042",
            "Legal Entity Identifier (LEI): 2138009FIXTURE000042",
        ),
        ("**Firm:** Fixture Bank Ltd", "Name: Fixture Bank Ltd"),
        (
            "**Third parties involved:** Mail host \\*Example Cloud\\*",
            "Third parties involved: Mail host *Example Cloud*",
        ),
        (
            "**Threshold:** \\<b>Consumer harm\\</b>: a large number of customers",
            "Threshold: <b>Consumer harm</b>: a large number of customers",
        ),
        (
            "**Reporting threshold met:** 2026-11-27 10:00 GMT (+00:00)",
            "Reporting threshold met: 2026-11-27 10:00 GMT (+00:00)",
        ),
        // Customers (1,250) apart from the data subjects (900).
        (
            "**Customers affected (approximately):** 1,250",
            "Customers affected: 1,250",
        ),
        (
            "people whose personal data was affected (data subjects): 900",
            "People whose personal data was affected (data subjects): 900",
        ),
    ] {
        assert!(md.contains(md_needle), "Markdown lacks {md_needle:?}: {md}");
        assert!(pdf.contains(pdf_needle), "PDF lacks {pdf_needle:?}: {pdf}");
    }
    assert!(
        !md.contains("**Customers affected (approximately):** 900"),
        "{md}"
    );
    assert!(
        html.contains("<dt>Threshold</dt><dd>&lt;b&gt;Consumer harm&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<b>Consumer harm"), "{html}");
    assert!(
        html.contains("<dt>Firm reference number (FRN)</dt><dd>123456</dd>"),
        "{html}"
    );
    for item in [
        "- [x] Firm reference number (FRN)",
        "- [x] Legal Entity Identifier (LEI)",
        "- [x] Which reporting threshold was met",
        "- [x] Number of customers affected",
        "- [x] Third parties involved",
    ] {
        assert!(md.contains(item), "checklist lacks {item:?}: {md}");
    }
    // An entity without identifiers, and a count that is not one: each is on the checklist.
    let run = draft(
        "fca",
        Some(&cfg),
        "tests/fixtures/drafts.csv",
        "G-2",
        dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stem = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("fca-G-2-") && n.ends_with(".md"))
        .expect("the FCA draft");
    let md = std::fs::read_to_string(dir.path().join(&stem)).unwrap();
    let pdf = pdf_flat(&dir.path().join(stem.replace(".md", ".pdf")));
    for item in [
        "- [ ] Firm reference number (FRN) (SUP 15.18; field `\\[\\[entities\\]\\] frn`)",
        "- [ ] Legal Entity Identifier (LEI) (SUP 15.18; field `\\[\\[entities\\]\\] lei`)",
        "- [ ] Which reporting threshold was met",
        "- [ ] Number of customers affected (not a whole number as written)",
        "- [ ] Third parties involved",
    ] {
        assert!(md.contains(item), "checklist lacks {item:?}: {md}");
    }
    assert!(
        md.contains("**Firm reference number (FRN):** _missing_"),
        "{md}"
    );
    assert!(
        pdf.contains("Firm reference number (FRN): MISSING"),
        "{pdf}"
    );
    assert!(
        pdf.contains("Customers affected: MISSING (not a whole number: about a thousand)"),
        "{pdf}"
    );
    assert!(
        pdf.contains("People whose personal data was affected (data subjects): 5,000"),
        "{pdf}"
    );
    let missing = md.matches("- [ ] ").count();
    assert!(
        run.stdout
            .contains(&format!("checklist: {missing} item(s) missing")),
        "{} vs {missing}",
        run.stdout
    );
}

#[test]
fn draft_pdfs_read_as_documents_not_markdown() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, id, pdf_name) in [
        ("ico", "HP-2026-1101", "ico-HP-2026-1101.pdf"),
        ("fca", "HP-2026-1101", "fca-HP-2026-1101-final.pdf"),
    ] {
        let run = draft(kind, None, "samples/incidents.csv", id, dir.path(), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let pdf = dir.path().join(pdf_name);
        let text = pdftotext(&pdf, &["-layout"]);
        // No Markdown syntax: no "- [x]" check boxes, "**" bold, "_missing_", "## ",
        // backslash escapes or code ticks; list items are bullets.
        for syntax in ["[x]", "[ ]", "**", "_missing_", "## ", "\\", "`"] {
            assert!(
                !text.contains(syntax),
                "{pdf_name} prints {syntax:?}: {text}"
            );
        }
        for line in text.lines().map(str::trim_start) {
            assert!(
                !line.starts_with("- ") && !line.starts_with("* ") && !line.starts_with('#'),
                "{pdf_name}: a Markdown line: {line:?}"
            );
        }
        assert!(text.contains("\u{2022} "), "{pdf_name} has bullets: {text}");
        // Headings are set larger than the text, and none ends a page; nothing passes
        // the margins.
        let pages = pdf::pages(&pdf);
        let heading = pages
            .iter()
            .flat_map(|p| &p.lines)
            .find(|l| l.text() == "1. About the breach" || l.text() == "1. The incident")
            .unwrap_or_else(|| panic!("{pdf_name}: no first section heading"));
        assert!(heading.height() >= pdf::HEADING_HEIGHT, "{heading:?}");
        assert!(pdf::headings_ending_a_page(&pages).is_empty());
        assert!(pdf::outside_margins(&pages).is_empty());
        // The creation date is the generation time (--now).
        let meta = pdftotext(&pdf, &["-bbox-layout"]);
        assert!(meta.contains(r#"<meta name="CreationDate" content="2026-11-28T12:00:00Z"/>"#));
    }
    // The ICO checklist's items all print (as check boxes drawn beside them), and counts
    // carry thousands separators.
    let md = std::fs::read_to_string(dir.path().join("ico-HP-2026-1101.md")).unwrap();
    let flat = pdf_flat(&dir.path().join("ico-HP-2026-1101.pdf"));
    let items: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("- [x] ").or(l.strip_prefix("- [ ] ")))
        .collect();
    assert!(items.len() > 10);
    for item in items {
        let words = item.split(" (").next().unwrap().replace('\\', "");
        assert!(
            flat.contains(&words),
            "PDF lacks the checklist item {words:?}"
        );
    }
    assert!(
        md.contains("**Approximate number of people:** 2,400,000"),
        "{md}"
    );
    assert!(
        flat.contains("Approximate number of people: 2,400,000"),
        "{flat}"
    );
}
