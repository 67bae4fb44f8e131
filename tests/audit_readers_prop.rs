//! Property tests of the audit readers, through the library's reader API (`discover`, then
//! `read_source`): every format (native JSON lines, CSV, Parquet, CloudTrail
//! `{"Records": [...]}`, Kubernetes audit JSON lines, OCSF API Activity JSON lines), plain
//! and gzipped, fed (a) arbitrary
//! bytes and (b) records built from the real shapes in `tests/fixtures/audit` with fields
//! removed, nulled, retyped and whitespace added. None may panic, and the counts
//! reconcile: records read = accepted + rejected + skipped, the accepted ones are the
//! events delivered, and every rejection is quarantined.
//!
//! 64 cases a property (the suite stays quick on two cores); a failing case is shrunk and
//! printed, and not written to a `proptest-regressions` file (the repository keeps none).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::Config;
use regwatch::audit::event::AuditEvent;
use regwatch::audit::model::Hit;
use regwatch::audit::sigma::SigmaRules;
use regwatch::audit::sources::{
    discover, read_source, Checker, EventSink, ReadContext, SourceFormat, SourceMappings,
};
use regwatch::config::EnvironmentMap;
use serde_json::Value;

fn config() -> Config {
    Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    }
}

/// No policy: the readers alone (the shipped Sigma rules still read every raw record).
struct NoChecks;

impl Checker for NoChecks {
    fn check<'b>(&self, _: &[AuditEvent<'b>]) -> Vec<Hit<'b>> {
        Vec::new()
    }
}

/// Counts the events delivered.
#[derive(Default)]
struct Count(u64);

impl EventSink for Count {
    fn events(&mut self, events: &[AuditEvent<'_>], _: Vec<Hit<'_>>) {
        self.0 += events.len() as u64;
    }
}

struct Shared {
    mappings: SourceMappings,
    environments: EnvironmentMap,
    sigma: SigmaRules,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let mut environments = EnvironmentMap::default();
        environments
            .accounts
            .insert("111111111111".into(), "prod".into());
        environments
            .namespaces
            .insert("*-prod".into(), "prod".into());
        Shared {
            mappings: SourceMappings::load(None).expect("built-in audit-sources.toml"),
            environments,
            sigma: SigmaRules::load(true, &[]).expect("shipped Sigma rules"),
        }
    })
}

/// Where each format's file goes, as it would be found (a CloudTrail tree for CloudTrail).
fn file_name(format: SourceFormat) -> &'static str {
    match format {
        SourceFormat::Jsonl => "events.jsonl",
        SourceFormat::Csv => "events.csv",
        SourceFormat::Parquet => "events.parquet",
        SourceFormat::Cloudtrail => {
            "AWSLogs/111111111111/CloudTrail/eu-west-2/2026/11/05/111111111111_CloudTrail_eu-west-2_20261105T1000Z_prop.json"
        }
        SourceFormat::K8s => "kube-apiserver-audit.log",
        SourceFormat::Ocsf => "security-lake-api-activity.ocsf.jsonl",
    }
}

/// Writes `bytes` (gzipped when `gzip`) where `format`'s files go, reads it as that
/// format, and checks that nothing is lost: read = accepted + rejected + skipped.
fn read_back(format: SourceFormat, bytes: &[u8], gzip: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut path: PathBuf = dir.path().join(file_name(format));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if gzip {
        path.set_extension(format!(
            "{}.gz",
            path.extension().unwrap().to_str().unwrap()
        ));
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap();
    } else {
        std::fs::write(&path, bytes).unwrap();
    }
    check_file(&path, format)
}

fn check_file(path: &Path, format: SourceFormat) -> Result<(), TestCaseError> {
    let s = shared();
    let cx = ReadContext {
        input_tz: chrono_tz::Europe::London,
        strict: false,
        mappings: &s.mappings,
        environments: &s.environments,
        max_record_bytes: 1 << 20,
        sigma: &s.sigma,
    };
    let found = discover(&[path.to_path_buf()], Some(format)).expect("a file given by path");
    prop_assert_eq!(found.files.len(), 1);
    let mut sink = Count::default();
    let (summary, rejected) = read_source(&found.files[0], 0, &cx, &NoChecks, &mut sink)
        .expect("not strict: a bad file is rejected, not an error");
    prop_assert_eq!(
        summary.read,
        summary.accepted + summary.rejected + summary.skipped,
        "{:?}",
        summary
    );
    prop_assert_eq!(summary.accepted, sink.0, "{:?}", summary);
    prop_assert_eq!(summary.rejected, rejected.len() as u64);
    Ok(())
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(common::fixture(name)).unwrap()
}

/// Real records: native events, CloudTrail records, Kubernetes events.
fn shapes(format: SourceFormat) -> &'static [Value] {
    static NATIVE: OnceLock<Vec<Value>> = OnceLock::new();
    static CLOUDTRAIL: OnceLock<Vec<Value>> = OnceLock::new();
    static K8S: OnceLock<Vec<Value>> = OnceLock::new();
    static OCSF: OnceLock<Vec<Value>> = OnceLock::new();
    let lines = |name: &str| -> Vec<Value> {
        (fixture_text(name).lines())
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    match format {
        SourceFormat::Cloudtrail => CLOUDTRAIL.get_or_init(|| {
            let dir = "audit/cloudtrail-real/AWSLogs/111111111111/CloudTrail/eu-west-2/2026/11/05/";
            ["compact", "indented"]
                .iter()
                .flat_map(|kind| {
                    let name = format!(
                        "{dir}111111111111_CloudTrail_eu-west-2_20261105T10{}Z_{kind}.json",
                        if *kind == "compact" { "00" } else { "05" }
                    );
                    let doc: Value = serde_json::from_str(&fixture_text(&name)).unwrap();
                    doc["Records"].as_array().unwrap().clone()
                })
                .collect()
        }),
        SourceFormat::K8s => K8S.get_or_init(|| {
            let mut all = lines("audit/k8s-real/audit-prod-cluster.jsonl");
            all.extend(lines("audit/k8s-real/kube-apiserver-audit.log"));
            all
        }),
        SourceFormat::Ocsf => OCSF.get_or_init(|| lines("audit/ocsf/cloudtrail-real.ocsf.jsonl")),
        _ => NATIVE.get_or_init(|| lines("audit/policies.jsonl")),
    }
}

/// One change to a record: at the `at`-th field met walking it (objects' keys, depth
/// first), what to do.
#[derive(Debug, Clone)]
enum Change {
    Remove,
    Null,
    /// Text becomes a number, a number or flag text, an object or list a text.
    Retype,
    /// Some other text (spaces, an empty string, a non-ASCII or huge-looking value).
    Text(String),
}

fn change() -> impl Strategy<Value = (usize, Change)> {
    let text = prop_oneof![
        Just(String::new()),
        Just("  ".to_string()),
        Just("2026-02-30T25:61:00Z".to_string()),
        Just("ünïcödé ☃".to_string()),
        "[ -~]{0,24}",
    ];
    (
        any::<usize>(),
        prop_oneof![
            Just(Change::Remove),
            Just(Change::Null),
            Just(Change::Retype),
            text.prop_map(Change::Text),
        ],
    )
}

/// The field paths of a record, depth first: (parent's path, key).
fn fields(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            at.push(k.clone());
            out.push(at.clone());
            fields(child, at, out);
            at.pop();
        }
    }
}

fn apply(rec: &mut Value, (at, change): &(usize, Change)) {
    let mut paths = Vec::new();
    fields(rec, &mut Vec::new(), &mut paths);
    let Some(path) = paths.get(at % paths.len().max(1)) else {
        return;
    };
    let (last, parents) = path.split_last().unwrap();
    let mut parent = &mut *rec;
    for k in parents {
        parent = &mut parent[k.as_str()];
    }
    let Some(obj) = parent.as_object_mut() else {
        return;
    };
    match change {
        Change::Remove => {
            obj.remove(last);
        }
        Change::Null => {
            obj.insert(last.clone(), Value::Null);
        }
        Change::Retype => {
            let old = obj.get(last).cloned().unwrap_or(Value::Null);
            let new = match old {
                Value::String(_) => Value::from(42),
                Value::Number(n) => Value::from(n.to_string()),
                Value::Bool(b) => Value::from(if b { "yes" } else { "0" }),
                Value::Null => Value::from(false),
                other => Value::from(other.to_string()),
            };
            obj.insert(last.clone(), new);
        }
        Change::Text(t) => {
            obj.insert(last.clone(), Value::from(t.clone()));
        }
    }
}

/// A record as JSON on one line: compact, or with spaces after `:` and `,`.
fn one_line(rec: &Value, spaced: bool) -> String {
    let compact = rec.to_string();
    if !spaced {
        return compact;
    }
    // Spaces outside strings only: re-serialised with serde's pretty printer, then
    // joined onto one line.
    let pretty = serde_json::to_string_pretty(rec).unwrap();
    pretty.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

/// The records as a file of `format`.
fn file_of(format: SourceFormat, records: &[Value], spaced: bool) -> Vec<u8> {
    match format {
        SourceFormat::Cloudtrail => {
            let doc = serde_json::json!({ "Records": records });
            if spaced {
                serde_json::to_vec_pretty(&doc).unwrap()
            } else {
                serde_json::to_vec(&doc).unwrap()
            }
        }
        SourceFormat::Csv => {
            let columns = regwatch::audit::event::NATIVE_FIELDS;
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(columns).unwrap();
            for r in records {
                w.write_record(columns.iter().map(|c| match &r[*c] {
                    Value::Null => String::new(),
                    Value::String(s) if spaced => format!(" {s} "),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }))
                .unwrap();
            }
            w.into_inner().unwrap()
        }
        _ => records
            .iter()
            .map(|r| one_line(r, spaced) + "\n")
            .collect::<String>()
            .into_bytes(),
    }
}

/// Records built from the real shapes of `format`, each changed a few times.
fn records(format: SourceFormat) -> impl Strategy<Value = Vec<Value>> {
    let base = shapes(format);
    proptest::collection::vec(
        (0..base.len(), proptest::collection::vec(change(), 0..4)),
        1..12,
    )
    .prop_map(move |picks| {
        picks
            .into_iter()
            .map(|(i, changes)| {
                let mut rec = base[i].clone();
                for c in &changes {
                    apply(&mut rec, c);
                }
                rec
            })
            .collect()
    })
}

const LINE_FORMATS: [SourceFormat; 5] = [
    SourceFormat::Jsonl,
    SourceFormat::Csv,
    SourceFormat::Cloudtrail,
    SourceFormat::K8s,
    SourceFormat::Ocsf,
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_are_read_rejected_or_skipped_never_lost(
        bytes in proptest::collection::vec(any::<u8>(), 0..3000),
        format in prop::sample::select(&[
            SourceFormat::Jsonl,
            SourceFormat::Csv,
            SourceFormat::Parquet,
            SourceFormat::Cloudtrail,
            SourceFormat::K8s,
            SourceFormat::Ocsf,
        ][..]),
        gzip in any::<bool>(),
    ) {
        read_back(format, &bytes, gzip)?;
    }

    #[test]
    fn arbitrary_text_lines_are_read_rejected_or_skipped_never_lost(
        lines in proptest::collection::vec("[ -~\t]{0,80}", 0..20),
        format in prop::sample::select(&LINE_FORMATS[..]),
        gzip in any::<bool>(),
    ) {
        read_back(format, lines.join("\n").as_bytes(), gzip)?;
    }

    #[test]
    fn native_records_with_fields_changed(recs in records(SourceFormat::Jsonl), spaced in any::<bool>(), gzip in any::<bool>()) {
        read_back(SourceFormat::Jsonl, &file_of(SourceFormat::Jsonl, &recs, spaced), gzip)?;
    }

    #[test]
    fn csv_rows_with_fields_changed(recs in records(SourceFormat::Csv), spaced in any::<bool>(), gzip in any::<bool>()) {
        read_back(SourceFormat::Csv, &file_of(SourceFormat::Csv, &recs, spaced), gzip)?;
    }

    #[test]
    fn cloudtrail_records_with_fields_changed(recs in records(SourceFormat::Cloudtrail), spaced in any::<bool>(), gzip in any::<bool>()) {
        read_back(SourceFormat::Cloudtrail, &file_of(SourceFormat::Cloudtrail, &recs, spaced), gzip)?;
    }

    #[test]
    fn kubernetes_events_with_fields_changed(recs in records(SourceFormat::K8s), spaced in any::<bool>(), gzip in any::<bool>()) {
        read_back(SourceFormat::K8s, &file_of(SourceFormat::K8s, &recs, spaced), gzip)?;
    }

    #[test]
    fn ocsf_api_activity_records_with_fields_changed(recs in records(SourceFormat::Ocsf), spaced in any::<bool>(), gzip in any::<bool>()) {
        read_back(SourceFormat::Ocsf, &file_of(SourceFormat::Ocsf, &recs, spaced), gzip)?;
    }

    #[test]
    fn a_parquet_file_cut_short_or_with_bytes_changed(
        cut in 0usize..4000,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
    ) {
        // The fixture, truncated and with some bytes overwritten (Parquet is not gzipped).
        let mut bytes = std::fs::read(common::fixture("audit/formats.parquet")).unwrap();
        bytes.truncate(cut.max(1));
        let n = bytes.len();
        for (at, b) in flips {
            bytes[at % n] = b;
        }
        read_back(SourceFormat::Parquet, &bytes, false)?;
    }
}
