//! OCSF API Activity (class_uid 6003, OCSF 1.x as Amazon Security Lake stores it): one
//! JSON object a line, or Parquet of nested columns. Security Lake's records are
//! CloudTrail's, mapped; each is mapped back to the CloudTrail fields regwatch reads
//! (eventName, eventSource, userIdentity, requestParameters...) and read by the CloudTrail
//! reader's own mapping, so the same vocabulary, facts (`grants`) and policies apply to
//! both. Records of other OCSF classes are skipped, counted by class with why.

use std::collections::BTreeMap;
use std::io::BufRead;

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::cloudtrail::{add_record, cloudtrail_event};
use super::intake::{json_reason, raw_text, rejection, Intake, ReadContext, SourceFile};
use crate::audit::event::{ActorType, AuditEvent, Operation, RecordError};
use crate::audit::model::Hit;
use crate::error::bad_input;
use crate::incidents::ingest::{Location, Rejection};

/// OCSF API Activity: the one class read.
const API_ACTIVITY: i64 = 6003;
/// Events of a JSON-lines file checked at a time (bounded memory).
const BATCH: usize = 1 << 14;

/// Reads an OCSF file: Parquet by its name (`.parquet`), else JSON lines.
pub(super) fn read(
    file: &SourceFile,
    index: u32,
    cx: &ReadContext,
    intake: &mut Intake,
) -> Result<()> {
    let parquet = file
        .path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    let mut batch = Batch::default();
    let cx = (index, cx);
    if parquet {
        read_parquet(file, &cx, intake, &mut batch)?;
    } else {
        read_json_lines(file, &cx, intake, &mut batch)?;
    }
    batch.deliver(intake)?;
    for (why, n) in batch.skipped {
        intake.summary.skipped += n;
        *intake.summary.skip_reasons.entry(why).or_default() += n;
    }
    Ok(())
}

/// The events of a part of a file, their Sigma hits, its rejections and skipped records.
#[derive(Default)]
struct Batch {
    events: Vec<AuditEvent<'static>>,
    sigma_hits: Vec<Hit<'static>>,
    rejects: Vec<Rejection>,
    /// Records skipped, by why (their OCSF class).
    skipped: BTreeMap<String, u64>,
}

impl Batch {
    /// Maps one record (numbered `n` from 1, at `place` in `file`) into the batch.
    fn add(
        &mut self,
        o: &Value,
        (file, place, n): (&str, Location, u64),
        cx: &Cx,
        intake: &mut Intake,
    ) {
        intake.summary.read += 1;
        match ocsf_event(o, n, cx.0, cx.1) {
            Ok(Mapped::Event(mapped)) => add_record(
                &mapped.0,
                mapped.1,
                cx.1,
                intake.summary,
                &mut self.events,
                &mut self.sigma_hits,
            ),
            Ok(Mapped::Skip(why)) => *self.skipped.entry(why).or_default() += 1,
            Err(err) => self.rejects.push(rejection(
                file,
                place,
                err,
                raw_text(o.to_string().as_bytes()),
            )),
        }
    }

    /// Checks the batch's events and hands them on with its rejections; the batch is
    /// emptied (its skipped records stay, for the file's summary).
    fn deliver(&mut self, intake: &mut Intake) -> Result<()> {
        let events = std::mem::take(&mut self.events);
        let mut hits = intake.checker.check(&events);
        hits.append(&mut self.sigma_hits); // Sigma hook (audit::sigma)
                                           // Accepted was counted by record in `add`: one record may stand for several events.
        for r in std::mem::take(&mut self.rejects) {
            intake.keep(r)?;
        }
        intake.sink.events(&events, hits);
        Ok(())
    }
}

/// What one OCSF record is: events to read, or skipped with why.
enum Mapped {
    /// The CloudTrail record rebuilt from it, and its first event (boxed: the variants
    /// differ in size).
    Event(Box<(Value, AuditEvent<'static>)>),
    Skip(String),
}

/// The source file's index in the run and the settings.
type Cx<'a> = (u32, &'a ReadContext<'a>);

fn read_json_lines(
    file: &SourceFile,
    cx: &Cx,
    intake: &mut Intake,
    batch: &mut Batch,
) -> Result<()> {
    let name = file.name();
    let mut reader = std::io::BufReader::new(file.open()?);
    let mut line = Vec::new();
    for n in 1u64.. {
        line.clear();
        let got = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
        if got == 0 {
            break;
        }
        // A byte-order mark at the start of the file is not part of the first record.
        let text = match line.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) if n == 1 => rest,
            _ => &line[..],
        };
        let text = text.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let parsed = if text.len() > cx.1.max_record_bytes {
            Err(format!(
                "the record is longer than {} bytes",
                cx.1.max_record_bytes
            ))
        } else {
            serde_json::from_slice::<Value>(text).map_err(|e| json_reason(&e))
        };
        match parsed {
            Ok(o) => batch.add(&o, (&name, Location::Line(n), n), cx, intake),
            Err(reason) => {
                intake.summary.read += 1;
                batch.rejects.push(rejection(
                    &name,
                    Location::Line(n),
                    RecordError::new("line", reason),
                    raw_text(text),
                ));
            }
        }
        if batch.events.len() >= BATCH {
            batch.deliver(intake)?;
        }
    }
    Ok(())
}

fn read_parquet(file: &SourceFile, cx: &Cx, intake: &mut Intake, batch: &mut Batch) -> Result<()> {
    // A Parquet MAP column (Security Lake's `unmapped`) is not read (see `read_rows`):
    // what regwatch takes from `unmapped` (additionalEventData) is then not there.
    let name = file.name();
    let shared = std::cell::RefCell::new((intake, batch));
    crate::util::parquet_rows::read_rows(
        &file.path,
        &name,
        &mut |n, o| {
            let (intake, batch) = &mut *shared.borrow_mut();
            batch.add(&o, (&name, Location::Record(n), n), cx, intake);
            Ok(())
        },
        &mut || {
            let (intake, batch) = &mut *shared.borrow_mut();
            batch.deliver(intake)
        },
    )
}

/// A number that may be written as text (an OCSF id, a time).
fn number(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// JSON held as text (Security Lake's Parquet `api.request.data`) or as JSON.
fn json_data(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// `unmapped` as an object: a JSON object, or a Parquet map (a list of key and value).
fn unmapped(o: &Value) -> Map<String, Value> {
    match o.get("unmapped") {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::Array(entries)) => entries
            .iter()
            .filter_map(|e| Some((e.get("key")?.as_str()?.to_string(), e.get("value")?.clone())))
            .collect(),
        _ => Map::new(),
    }
}

/// CloudTrail's `additionalEventData` from `unmapped`: kept whole, or flattened into
/// `additionalEventData.<key>` (as Security Lake writes it).
fn additional_event_data(unmapped: &Map<String, Value>) -> Value {
    if let Some(v) = unmapped.get("additionalEventData") {
        return json_data(Some(v));
    }
    let flat: Map<String, Value> = unmapped
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("additionalEventData.")?.to_string(),
                v.clone(),
            ))
        })
        .collect();
    if flat.is_empty() {
        Value::Null
    } else {
        Value::Object(flat)
    }
}

/// Maps one OCSF record: API Activity to a CloudTrail record and its event; other classes
/// skipped with why; a record that cannot be read rejected with why.
fn ocsf_event(o: &Value, n: u64, index: u32, cx: &ReadContext) -> Result<Mapped, RecordError> {
    let reject = RecordError::new;
    let class = number(o.get("class_uid"))
        .ok_or_else(|| reject("class_uid", "is missing (not an OCSF event)"))?;
    if class != API_ACTIVITY {
        let name = o.pointer("/class_name").and_then(Value::as_str);
        let name = name.map(|c| format!(" ({c})")).unwrap_or_default();
        return Ok(Mapped::Skip(format!(
            "OCSF class {class}{name}, not API Activity (6003)"
        )));
    }
    let s = |ptr: &str| {
        o.pointer(ptr)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    };
    let operation = s("/api/operation").ok_or_else(|| reject("api.operation", "is missing"))?;
    let ms = number(o.get("time")).ok_or_else(|| reject("time", "is missing"))?;
    let time = chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| reject("time", "is not a time (milliseconds since 1970)"))?
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let issuer = s("/actor/session/issuer");
    let actor = s("/actor/user/uid")
        .or_else(|| s("/actor/user/name"))
        .or(issuer)
        .ok_or_else(|| reject("actor.user.uid", "is missing"))?;
    // CloudTrail's eventSource: `s3` and `s3.amazonaws.com` are the same service.
    let service = s("/api/service/name").map(|name| {
        if name.contains('.') {
            name.to_string()
        } else {
            format!("{name}.amazonaws.com")
        }
    });
    let account = s("/cloud/account/uid").or_else(|| s("/cloud/account_uid"));
    let status_failed = number(o.get("status_id")) == Some(2);
    let error = s("/api/response/error")
        .map(str::to_string)
        .or_else(|| status_failed.then(|| "Failure".to_string()));
    let activity = number(o.get("activity_id"));
    let resources: Vec<Value> = (o.get("resources").and_then(Value::as_array))
        .map(|list| {
            list.iter()
                .filter_map(|r| {
                    let name = (r.get("uid").and_then(Value::as_str))
                        .or_else(|| r.get("name").and_then(Value::as_str))?;
                    Some(json!({"ARN": name, "type": r.get("type")}))
                })
                .collect()
        })
        .unwrap_or_default();
    let unmapped = unmapped(o);
    let rec = json!({
        "eventID": s("/metadata/uid").or_else(|| s("/api/request/uid")),
        "eventTime": time,
        "eventName": operation,
        "eventSource": service,
        "awsRegion": s("/cloud/region"),
        "recipientAccountId": account,
        "userIdentity": {
            "arn": actor,
            "type": s("/actor/user/type"),
            "userName": s("/actor/user/name"),
            "accountId": s("/actor/user/account/uid").or(account),
            "invokedBy": s("/actor/invoked_by"),
        },
        "userAgent": s("/http_request/user_agent"),
        "requestParameters": json_data(o.pointer("/api/request/data")),
        "responseElements": json_data(o.pointer("/api/response/data")),
        "additionalEventData": additional_event_data(&unmapped),
        "errorCode": error,
        "readOnly": activity == Some(2),
        "resources": resources,
    });
    let mut e = cloudtrail_event(&rec, n, index, cx).map_err(|err| {
        // The CloudTrail names of what is missing are OCSF's here.
        let field = match err.field.as_str() {
            "eventTime" => "time",
            "eventName" => "api.operation",
            "userIdentity" | "userIdentity.arn" => "actor.user.uid",
            other => other,
        };
        RecordError::new(field, err.reason)
    })?;
    // An assumed role's session names its issuer: an agent's role is an agent.
    if let (ActorType::Human, Some(issuer)) = (e.actor_type, issuer) {
        let user_agent = s("/http_request/user_agent").unwrap_or("");
        let t = cx.mappings.actor_type(issuer, user_agent);
        if t != ActorType::Human {
            e.actor_type = t;
            if t == ActorType::AiAgent {
                e.agent = user_agent.to_string().into();
            }
        }
    }
    // An operation the vocabulary does not name takes OCSF's activity: create, update,
    // delete (a read or a failed call stays a read).
    let m = &cx.mappings.cloudtrail;
    let named = m.events.contains_key(operation)
        || m.prefixes
            .iter()
            .any(|(p, _)| operation.starts_with(p.as_str()));
    if !named && e.operation.changes() {
        e.operation = match activity {
            Some(1) => Operation::Create,
            Some(3) => Operation::Update,
            Some(4) => Operation::Delete,
            _ => e.operation,
        };
    }
    Ok(Mapped::Event(Box::new((rec, e))))
}
