//! Test vectors written from the texts, one per rule: the real binary, a config with the
//! group's entities, a few incidents, and the deadlines it wrote (JSON), checked against
//! instants worked out by hand from the rule. Each test names its source.

mod common;
use common::*;

use serde_json::Value;

/// A config with these `[[entities]]` (TOML) and the shipped mappings.
fn setup(entities: &str, extra: &str, incidents: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mappings = root().join("mappings");
    let config = format!(
        "[clock]\ntimezone = \"Europe/London\"\nbank_holidays = \"england-and-wales\"\n\n\
         [paths]\nmappings = {:?}\nservices = \"services.toml\"\n\n{extra}\n\n{entities}\n",
        mappings.display().to_string()
    );
    std::fs::write(dir.path().join("regwatch.toml"), config).unwrap();
    std::fs::write(
        dir.path().join("services.toml"),
        "[[service]]\nid = \"refunds\"\nname = \"Refunds\"\nimpact_tolerance = \"2 days\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("incidents.csv"), incidents).unwrap();
    dir
}

/// `deadlines --all --format json` at `now`, in the set-up folder.
fn deadlines(dir: &tempfile::TempDir, now: &str) -> (Run, Value) {
    let run = regwatch_in(
        dir.path(),
        &[
            "--config",
            "regwatch.toml",
            "deadlines",
            "incidents.csv",
            "--all",
            "--format",
            "json",
            "--now",
            now,
        ],
    );
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let json = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    (run, json)
}

/// The deadline of `incident`'s `regime`/`clock` (clock "" for a regime that does not apply).
fn find<'a>(json: &'a Value, incident: &str, regime: &str, clock: &str) -> &'a Value {
    json["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["incident_id"] == incident
                && d["regime"] == regime
                && (clock.is_empty() || d["clock"] == clock)
        })
        .unwrap_or_else(|| panic!("no {incident} {regime}/{clock} in {json:#}"))
}

fn due(json: &Value, incident: &str, regime: &str, clock: &str) -> String {
    let d = find(json, incident, regime, clock);
    d["due_at"]
        .as_str()
        .unwrap_or_else(|| panic!("no deadline: {d:#}"))
        .to_string()
}

fn notes(json: &Value, incident: &str, regime: &str, clock: &str) -> String {
    find(json, incident, regime, clock)["notes"].to_string()
}

fn status(json: &Value, incident: &str, regime: &str) -> String {
    find(json, incident, regime, "")["status"]
        .as_str()
        .unwrap()
        .to_string()
}

const HEADER: &str = "id,entity,title,aware_at,personal_data,severity,sectors,jurisdictions,dora_classified_at,dora_intermediate_at\n";

/// Reg. (EU) 2025/301 Art. 5(4)-(5): an insurer's initial notification that falls on a
/// Saturday moves to noon (local) on Monday; a credit institution's does not. Every
/// entity's final report moves.
#[test]
fn dora_weekend_extension_depends_on_the_kind_of_entity() {
    let entities = r#"
[[entities]]
id = "bank-ie"
country = "IE"
kinds = ["credit-institution"]

[[entities]]
id = "insurer-nl"
country = "NL"
kinds = ["insurer"]
"#;
    // Aware Friday 27 Nov 2026 20:00 UTC, classified major Saturday 10:00 UTC: the initial
    // notification is due Saturday 14:00 UTC (4 hours from classification, before the 24
    // hours from awareness). Intermediate report on Wednesday 28 Oct: final due one month
    // later, Saturday 28 Nov.
    let rows = "B-1,bank-ie,bank,2026-11-27T20:00:00Z,false,major,,eu,2026-11-28T10:00:00Z,2026-10-28T09:00:00Z\n\
                I-1,insurer-nl,insurer,2026-11-27T20:00:00Z,false,major,,eu,2026-11-28T10:00:00Z,2026-10-28T09:00:00Z\n";
    let dir = setup(entities, "", &format!("{HEADER}{rows}"));
    let (_, json) = deadlines(&dir, "2026-11-28T11:00:00Z");
    // Credit institution: no extension for the initial notification, with a note saying so.
    assert_eq!(
        due(&json, "B-1", "eu-dora-major-ict", "initial"),
        "2026-11-28T14:00:00Z"
    );
    assert!(notes(&json, "B-1", "eu-dora-major-ict", "initial").contains("no extension"));
    // Insurer in the Netherlands: noon on Monday in Amsterdam (CET, UTC+1) is 11:00 UTC.
    assert_eq!(
        due(&json, "I-1", "eu-dora-major-ict", "initial"),
        "2026-11-30T11:00:00Z"
    );
    assert!(notes(&json, "I-1", "eu-dora-major-ict", "initial").contains("NL"));
    // The final report moves for both: 28 Nov 09:00 falls on a Saturday; noon Monday in
    // Dublin is 12:00 UTC, in Amsterdam 11:00 UTC.
    assert_eq!(
        due(&json, "B-1", "eu-dora-major-ict", "final"),
        "2026-11-30T12:00:00Z"
    );
    assert_eq!(
        due(&json, "I-1", "eu-dora-major-ict", "final"),
        "2026-11-30T11:00:00Z"
    );
}

/// Reg. (EU) 2025/301 Art. 5(4): the holidays are those of the reporting entity's Member
/// State. St Patrick's Day (Tuesday 17 March 2026) is a public holiday in Ireland, not in
/// England and Wales.
#[test]
fn dora_uses_the_member_states_holidays() {
    let entities = r#"
[[entities]]
id = "insurer-ie"
country = "IE"
kinds = ["insurer"]

[[entities]]
id = "insurer-gb"
country = "GB"
kinds = ["insurer", "eu-financial-entity"]
"#;
    // Aware Monday 16 March 10:00 UTC, classified Tuesday 08:00: due Tuesday 10:00 UTC (24
    // hours from awareness, earlier than 4 hours from classification).
    let rows = "IE-1,insurer-ie,t,2026-03-16T10:00:00Z,false,major,,eu,2026-03-17T08:00:00Z,\n\
                GB-1,insurer-gb,t,2026-03-16T10:00:00Z,false,major,,eu,2026-03-17T08:00:00Z,\n";
    let dir = setup(entities, "", &format!("{HEADER}{rows}"));
    let (_, json) = deadlines(&dir, "2026-03-16T12:00:00Z");
    assert_eq!(
        due(&json, "IE-1", "eu-dora-major-ict", "initial"),
        "2026-03-18T12:00:00Z",
        "St Patrick's Day moves the Irish insurer's deadline to noon on Wednesday"
    );
    assert_eq!(
        due(&json, "GB-1", "eu-dora-major-ict", "initial"),
        "2026-03-17T10:00:00Z",
        "17 March is a working day in England and Wales"
    );
}

const FCA_HEADER: &str =
    "id,entity,title,aware_at,detected_at,personal_data,severity,jurisdictions,psr_initial_at\n";

const PSP: &str = r#"
[[entities]]
id = "pay"
country = "GB"
kinds = ["fca-regulated", "payment-institution"]

[[entities]]
id = "bank"
country = "GB"
kinds = ["fca-regulated", "credit-institution"]
"#;

/// Before 18 March 2027: PSRs 2017 reg 99 (the FCA's 4 hours from detection) for a payment
/// institution, and Principle 11 ("immediately") for every FCA firm; no PS26/2 clock.
#[test]
fn a_payment_institution_today_reports_under_reg_99_and_principle_11() {
    let rows =
        "P-1,pay,t,2026-11-02T10:30:00Z,2026-11-02T10:00:00Z,false,major,uk,2026-11-02T13:00:00Z\n\
                K-1,bank,t,2026-11-02T10:30:00Z,2026-11-02T10:00:00Z,false,major,uk,\n";
    let dir = setup(PSP, "", &format!("{FCA_HEADER}{rows}"));
    let (_, json) = deadlines(&dir, "2026-11-02T11:00:00Z");
    assert_eq!(
        due(&json, "P-1", "uk-psr-reg99", "initial"),
        "2026-11-02T14:00:00Z"
    );
    // Intermediate: 3 working days after the initial notification (Monday 13:00 to
    // Thursday 13:00).
    assert_eq!(
        due(&json, "P-1", "uk-psr-reg99", "intermediate"),
        "2026-11-05T13:00:00Z"
    );
    assert_eq!(status(&json, "K-1", "uk-psr-reg99"), "not-applicable");
    let p11 = find(&json, "K-1", "fca-principle-11", "notify");
    assert_eq!(p11["due_at"], "2026-11-02T14:30:00Z");
    assert!(p11["notes"].to_string().contains("immediately"), "{p11:#}");
    assert_eq!(
        status(&json, "P-1", "fca-pra-operational-incident"),
        "not-applicable"
    );
}

/// From 18 March 2027 (PS26/2, SUP 15.18): a payment institution's initial report is due 4
/// hours after detection, a bank's within 24 hours; reg 99 and Principle 11 give way.
#[test]
fn a_payment_institution_under_ps26_2_has_four_hours() {
    let rows = "P-2,pay,t,2027-04-10T10:30:00Z,2027-04-10T10:00:00Z,false,major,uk,\n\
                K-2,bank,t,2027-04-10T10:30:00Z,2027-04-10T10:00:00Z,false,major,uk,\n";
    let dir = setup(PSP, "", &format!("{FCA_HEADER}{rows}"));
    let (_, json) = deadlines(&dir, "2027-04-10T11:00:00Z");
    assert_eq!(
        due(&json, "P-2", "fca-pra-operational-incident", "initial-psp"),
        "2027-04-10T14:00:00Z"
    );
    assert_eq!(
        due(&json, "K-2", "fca-pra-operational-incident", "initial"),
        "2027-04-11T10:30:00Z"
    );
    assert_eq!(status(&json, "P-2", "uk-psr-reg99"), "not-applicable");
    assert_eq!(status(&json, "K-2", "fca-principle-11"), "not-applicable");
}

/// SYSC 15A.2.9R: an impact tolerance is a length of disruption, so "2 days" is 48 hours
/// across both clock changes (not 47 in March or 49 in October).
#[test]
fn a_two_day_tolerance_is_48_hours_across_both_clock_changes() {
    let rows = "id,title,aware_at,personal_data,sectors,affected_services,disruption_start\n\
                S-1,spring,2026-03-28T12:00:00Z,false,fca-regulated,refunds,2026-03-28T12:00:00Z\n\
                S-2,autumn,2026-10-24T12:00:00Z,false,fca-regulated,refunds,2026-10-24T12:00:00Z\n";
    let dir = setup("", "", rows);
    let (_, json) = deadlines(&dir, "2026-03-28T13:00:00Z");
    assert_eq!(
        due(&json, "S-1", "fca-sysc15a-impact-tolerance", "tolerance"),
        "2026-03-30T12:00:00Z"
    );
    assert_eq!(
        due(&json, "S-2", "fca-sysc15a-impact-tolerance", "tolerance"),
        "2026-10-26T12:00:00Z"
    );
}

/// A rule's first day is a local date: an incident at 00:30 BST on 20 August 2025
/// (23:30 UTC the day before) is under PECR's 72 hours, not the old 24.
#[test]
fn a_rule_starts_at_local_midnight() {
    let rows = "id,title,aware_at,detected_at,personal_data,sectors,jurisdictions,public_comms_service\n\
                T-1,first day,2025-08-20T00:30:00+01:00,2025-08-20T00:30:00+01:00,true,communications-provider,uk,true\n\
                T-2,last day,2025-08-19T23:30:00+01:00,2025-08-19T23:30:00+01:00,true,communications-provider,uk,true\n";
    let dir = setup("", "", rows);
    let (_, json) = deadlines(&dir, "2025-08-20T01:00:00Z");
    assert_eq!(
        due(&json, "T-1", "pecr-reg5a", "notify"),
        "2025-08-22T23:30:00Z"
    );
    assert_eq!(
        due(&json, "T-2", "pecr-reg5a", "initial"),
        "2025-08-20T22:30:00Z"
    );
}

/// UK GDPR Art. 95 and PECR reg. 5A: a telco's breach of staff (HR) data is not in
/// providing the public service, so it goes to the ICO under Art. 33, not PECR; a breach
/// not yet assessed runs both clocks, with a note.
#[test]
fn a_telcos_staff_data_breach_is_a_uk_gdpr_breach() {
    let entities = r#"
[[entities]]
id = "mobile"
country = "GB"
kinds = ["communications-provider"]
"#;
    let rows =
        "id,title,aware_at,personal_data,risk_to_individuals,jurisdictions,public_comms_service\n\
                H-1,HR files,2026-11-02T09:00:00Z,true,risk,uk,false\n\
                H-2,unassessed,2026-11-02T09:00:00Z,true,risk,uk,\n";
    let dir = setup(entities, "", rows);
    let (_, json) = deadlines(&dir, "2026-11-02T10:00:00Z");
    assert_eq!(
        due(&json, "H-1", "uk-gdpr-art33", "notify-ico"),
        "2026-11-05T09:00:00Z"
    );
    assert_eq!(status(&json, "H-1", "pecr-reg5a"), "not-applicable");
    assert_eq!(
        due(&json, "H-2", "uk-gdpr-art33", "notify-ico"),
        "2026-11-05T09:00:00Z"
    );
    assert_eq!(
        due(&json, "H-2", "pecr-reg5a", "notify"),
        "2026-11-05T09:00:00Z"
    );
    assert!(notes(&json, "H-2", "pecr-reg5a", "notify").contains("public_comms_service"));
}

/// EU GDPR Art. 33 and EDPB Guidelines 9/2022: a controller with no EU establishment
/// notifies every authority where affected people live; one established in the EU, its
/// lead authority. NIS2 Art. 23(4): 24 hours, 72 hours, one month; not for a financial
/// entity (DORA). UK GDPR Art. 33(2): a processor tells its controller.
#[test]
fn eu_gdpr_nis2_and_processor_clocks() {
    let entities = r#"
[[entities]]
id = "uk"
country = "GB"

[[entities]]
id = "fr"
country = "FR"
kinds = ["nis2-essential"]

[[entities]]
id = "nl-bank"
country = "NL"
kinds = ["nis2-essential", "credit-institution"]
"#;
    let rows = "id,entity,title,aware_at,personal_data,risk_to_individuals,severity,jurisdictions,affected_member_states,processor_for,nis2_notification_at\n\
                E-1,uk,t,2026-11-02T09:00:00Z,true,risk,moderate,uk,FR;DE,,\n\
                E-2,fr,t,2026-11-02T09:00:00Z,true,risk,major,eu,FR,,2026-11-04T09:00:00Z\n\
                E-3,nl-bank,t,2026-11-02T09:00:00Z,false,,major,eu,,,\n\
                E-4,uk,t,2026-11-02T09:00:00Z,true,risk,moderate,uk,,Acme Retail Ltd,\n";
    let dir = setup(entities, "", rows);
    let (_, json) = deadlines(&dir, "2026-11-02T10:00:00Z");
    assert_eq!(
        due(&json, "E-1", "eu-gdpr-art33", "notify-sa"),
        "2026-11-05T09:00:00Z"
    );
    let n = notes(&json, "E-1", "eu-gdpr-art33", "notify-sa");
    assert!(
        n.contains("each Member State") && n.contains("FR, DE"),
        "{n}"
    );
    let n = notes(&json, "E-2", "eu-gdpr-art33", "notify-sa");
    assert!(n.contains("lead supervisory authority"), "{n}");
    assert_eq!(
        due(&json, "E-2", "eu-nis2-art23", "early-warning"),
        "2026-11-03T09:00:00Z"
    );
    assert_eq!(
        due(&json, "E-2", "eu-nis2-art23", "notification"),
        "2026-11-05T09:00:00Z"
    );
    // One month after the incident notification, on the French calendar (CET).
    assert_eq!(
        due(&json, "E-2", "eu-nis2-art23", "final"),
        "2026-12-04T09:00:00Z"
    );
    assert_eq!(status(&json, "E-3", "eu-nis2-art23"), "not-applicable");
    assert_eq!(
        due(&json, "E-4", "uk-gdpr-art33-2", "tell-controller"),
        "2026-11-03T09:00:00Z"
    );
    assert_eq!(status(&json, "E-4", "uk-gdpr-art33"), "not-applicable");
}

/// AI Act Art. 113(c) as amended: an Annex III system is high-risk from 2 December 2027;
/// a firm may move the date in its config while the law is in flux.
#[test]
fn ai_act_dates_by_class_and_config_override() {
    let rows =
        "id,title,aware_at,personal_data,sectors,jurisdictions,ai_act_category,ai_system_class\n\
                A-1,scoring,2026-11-10T10:00:00Z,false,ai-provider,eu,health,annex-iii\n";
    let dir = setup("", "", rows);
    let (_, json) = deadlines(&dir, "2026-11-10T11:00:00Z");
    assert_eq!(status(&json, "A-1", "eu-ai-act-art73"), "not-applicable");
    assert!(find(&json, "A-1", "eu-ai-act-art73", "")["reason"]
        .as_str()
        .unwrap()
        .contains("2027-12-02"));
    let dir = setup(
        "",
        "[regimes.in_force]\n\"eu-ai-act-art73/annex-iii\" = \"2026-08-02\"\n",
        rows,
    );
    let (_, json) = deadlines(&dir, "2026-11-10T11:00:00Z");
    assert_eq!(
        due(&json, "A-1", "eu-ai-act-art73", "report-15-days"),
        "2026-11-25T10:00:00Z"
    );
}

/// An incident naming an entity the config does not know keeps its clocks (evaluated as
/// the first entity) with a note; a kind outside the vocabulary is refused, named.
#[test]
fn unknown_entities_lose_no_clock_and_unknown_kinds_are_refused() {
    let entities = "[[entities]]\nid = \"uk\"\ncountry = \"GB\"\n";
    let rows = "id,entity,title,aware_at,personal_data,risk_to_individuals,jurisdictions\n\
                U-1,typo,t,2026-11-02T09:00:00Z,true,risk,uk\n";
    let dir = setup(entities, "", rows);
    let (_, json) = deadlines(&dir, "2026-11-02T10:00:00Z");
    assert_eq!(
        due(&json, "U-1", "uk-gdpr-art33", "notify-ico"),
        "2026-11-05T09:00:00Z"
    );
    assert!(notes(&json, "U-1", "uk-gdpr-art33", "notify-ico").contains("\\\"typo\\\""));
    let bad = setup(
        "[[entities]]\nid = \"x\"\ncountry = \"GB\"\nkinds = [\"bank\"]\n",
        "",
        rows,
    );
    let run = regwatch_in(
        bad.path(),
        &["--config", "regwatch.toml", "deadlines", "incidents.csv"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("\"bank\""), "{}", run.stderr);
}

/// UK GDPR Art. 33 and EU GDPR Art. 33 both bind a controller: which one applies follows
/// where the people affected are (`jurisdictions`), written as people write it (`GB`,
/// `IE`), and, when the incident does not say, where its entity is established. A French
/// entity's breach gets the EU clock, not only the ICO's; `GB` is the UK.
#[test]
fn jurisdictions_as_written_and_the_entitys_home_decide_uk_or_eu_gdpr() {
    let entities = r#"
[[entities]]
id = "acme-uk"
name = "Acme UK Ltd"
country = "GB"

[[entities]]
id = "acme-fr"
name = "Acme France SAS"
country = "FR"
"#;
    let incidents = format!(
        "{HEADER}\
         G-1,acme-uk,Breach,2026-11-23T10:00:00Z,true,,,GB,,\n\
         F-1,acme-fr,Breach,2026-11-23T10:00:00Z,true,,,,,\n\
         F-2,acme-fr,Breach,2026-11-23T10:00:00Z,true,,,UK;IE,,\n"
    );
    let dir = setup(entities, "", &incidents);
    let (_, json) = deadlines(&dir, "2026-11-24T12:00:00Z");
    assert_eq!(status(&json, "G-1", "eu-gdpr-art33"), "not-applicable");
    assert_eq!(
        due(&json, "G-1", "uk-gdpr-art33", ""),
        "2026-11-26T10:00:00Z"
    );
    assert_eq!(
        due(&json, "F-1", "eu-gdpr-art33", ""),
        "2026-11-26T10:00:00Z"
    );
    assert_eq!(status(&json, "F-1", "uk-gdpr-art33"), "not-applicable");
    assert_eq!(
        due(&json, "F-2", "uk-gdpr-art33", ""),
        "2026-11-26T10:00:00Z"
    );
    assert_eq!(
        due(&json, "F-2", "eu-gdpr-art33", ""),
        "2026-11-26T10:00:00Z"
    );
    // A value that names neither is a problem on the row (exit 6), and the entity's home
    // still applies.
    let dir = setup(
        entities,
        "",
        &format!("{HEADER}X-1,acme-uk,Breach,2026-11-23T10:00:00Z,true,,,US,,\n"),
    );
    let run = regwatch_in(
        dir.path(),
        &[
            "deadlines",
            "incidents.csv",
            "--all",
            "--format",
            "json",
            "--now",
            "2026-11-24T12:00:00Z",
        ],
    );
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("field jurisdictions: \"US\" is neither uk nor eu"),
        "{}",
        run.stderr
    );
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        due(&json, "X-1", "uk-gdpr-art33", ""),
        "2026-11-26T10:00:00Z"
    );

    // A default set in the config wins over the entity's home.
    let dir = setup(
        entities,
        "[incidents]\ndefault_jurisdictions = [\"GB\", \"EU\"]",
        &incidents,
    );
    let (_, json) = deadlines(&dir, "2026-11-24T12:00:00Z");
    assert_eq!(
        due(&json, "F-1", "uk-gdpr-art33", ""),
        "2026-11-26T10:00:00Z"
    );
    assert_eq!(
        due(&json, "F-1", "eu-gdpr-art33", ""),
        "2026-11-26T10:00:00Z"
    );
}
