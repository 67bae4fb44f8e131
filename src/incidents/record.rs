//! The incident record: what happened, when the organisation knew, and what has been done.
//!
//! Core fields are typed; every other `*_at` column is kept as a named timestamp and every
//! other column as named text, so a regime in `mappings/` can start or stop its clock on a
//! field the code has never heard of.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::clock::parse_clock_timestamp;

/// Columns an incident file must have.
pub const REQUIRED_COLUMNS: &[&str] = &["id", "title", "aware_at", "personal_data"];

/// Allowed values of the enumerated fields (empty is always allowed and means "not known").
pub const VOCABULARY: &[(&str, &[&str])] = &[
    (
        "cause",
        &[
            "ai_agent",
            "human_error",
            "attack",
            "third_party",
            "system_failure",
            "unknown",
        ],
    ),
    ("severity", &["minor", "moderate", "major", "critical"]),
    ("risk_to_individuals", &["unlikely", "risk", "high"]),
    (
        "ai_act_category",
        &[
            "death",
            "health",
            "critical_infrastructure",
            "widespread_infringement",
            "fundamental_rights",
            "property_or_environment",
        ],
    ),
];

/// A list cell kept as written (`a;b;c`, trimmed and `;`-joined): one allocation
/// instead of one per item, since most lists are short and only ever scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List(Box<str>);

impl List {
    pub fn parse(cell: &str) -> List {
        if !cell.contains(['|', ' ', '\t']) && !cell.contains(";;") {
            let t = cell.trim_matches(';');
            return List(t.into());
        }
        List(split_list(cell).join(";").into())
    }

    pub fn from_items(items: &[String]) -> List {
        List(items.join(";").into())
    }

    pub fn items(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.split(';').filter(|s| !s.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, want: &str) -> bool {
        self.items().any(|i| i.eq_ignore_ascii_case(want))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for List {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.items())
    }
}

/// One incident, validated. Times are UTC.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: Arc<str>,
    pub title: Box<str>,
    /// Line (CSV, JSON lines) or record number (JSON array) it was read from.
    pub line: u64,
    pub aware_at: DateTime<Utc>,
    pub personal_data: bool,
    /// The enumerated fields (cause, severity, risk, AI Act category) as positions in
    /// `VOCABULARY` (0 = empty): four bytes instead of four string slices per incident.
    #[serde(skip)]
    codes: [u8; 4],
    pub data_subjects: Option<u64>,
    pub records: Option<u64>,
    pub data_categories: List,
    pub affected_services: List,
    pub sectors: List,
    pub jurisdictions: List,
    /// Every other timestamp column (`occurred_at`, `ico_notified_at`, `disruption_start`, ...).
    pub times: Box<[(Arc<str>, DateTime<Utc>)]>,
    /// Every other non-empty column, as text (`description`, `delay_reason`, ...).
    pub text: Box<[(Arc<str>, Box<str>)]>,
}

/// The value of a named field, for rules written as data.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    Missing,
    Bool(bool),
    Number(u64),
    Text(&'a str),
    List(&'a List),
    Time(DateTime<Utc>),
}

impl Incident {
    /// Looks a field up by its column name.
    pub fn field(&self, name: &str) -> FieldValue<'_> {
        fn text(s: &str) -> FieldValue<'_> {
            if s.is_empty() {
                FieldValue::Missing
            } else {
                FieldValue::Text(s)
            }
        }
        match name {
            "id" => FieldValue::Text(&self.id),
            "title" => FieldValue::Text(&self.title),
            "aware_at" => FieldValue::Time(self.aware_at),
            "personal_data" => FieldValue::Bool(self.personal_data),
            "risk_to_individuals" => text(self.risk_to_individuals()),
            "cause" => text(self.cause()),
            "severity" => text(self.severity()),
            "ai_act_category" => text(self.ai_act_category()),
            "data_subjects" => self
                .data_subjects
                .map_or(FieldValue::Missing, FieldValue::Number),
            "records" => self.records.map_or(FieldValue::Missing, FieldValue::Number),
            "data_categories" => FieldValue::List(&self.data_categories),
            "affected_services" => FieldValue::List(&self.affected_services),
            "sectors" => FieldValue::List(&self.sectors),
            "jurisdictions" => FieldValue::List(&self.jurisdictions),
            _ => {
                if let Some(t) = self.time(name) {
                    FieldValue::Time(t)
                } else if let Some(s) = self.text(name) {
                    FieldValue::Text(s)
                } else {
                    FieldValue::Missing
                }
            }
        }
    }

    fn code(&self, field: usize) -> &'static str {
        match self.codes[field] {
            0 => "",
            n => VOCABULARY[field].1[n as usize - 1],
        }
    }

    /// `ai_agent`, `human_error`, ... or empty.
    pub fn cause(&self) -> &'static str {
        self.code(0)
    }

    /// `minor` ... `critical`, or empty.
    pub fn severity(&self) -> &'static str {
        self.code(1)
    }

    /// `unlikely`, `risk`, `high`, or empty when not yet assessed.
    pub fn risk_to_individuals(&self) -> &'static str {
        self.code(2)
    }

    /// The AI Act serious-incident category, or empty.
    pub fn ai_act_category(&self) -> &'static str {
        self.code(3)
    }

    /// A timestamp field by name (`aware_at` included).
    pub fn time(&self, name: &str) -> Option<DateTime<Utc>> {
        if name == "aware_at" {
            return Some(self.aware_at);
        }
        self.times
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| *v)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.text
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }
}

/// Which column a header names, resolved once per file.
#[derive(Debug, Clone)]
pub enum Column {
    Id,
    Title,
    AwareAt,
    PersonalData,
    /// An enumerated field: its position in `VOCABULARY`.
    Enum(usize),
    Count(Arc<str>),
    List(Arc<str>),
    Time(Arc<str>),
    Text(Arc<str>),
}

const LIST_COLUMNS: &[&str] = &[
    "data_categories",
    "affected_services",
    "sectors",
    "jurisdictions",
];

impl Column {
    pub fn for_name(name: &str) -> Column {
        if let Some(pos) = VOCABULARY.iter().position(|(f, _)| *f == name) {
            return Column::Enum(pos);
        }
        match name {
            "id" => Column::Id,
            "title" => Column::Title,
            "aware_at" => Column::AwareAt,
            "personal_data" => Column::PersonalData,
            "data_subjects" | "records" => Column::Count(name.into()),
            n if LIST_COLUMNS.contains(&n) => Column::List(name.into()),
            n if is_time_column(n) => Column::Time(name.into()),
            _ => Column::Text(name.into()),
        }
    }
}

/// `*_at` columns, and the two disruption bounds, are timestamps.
pub fn is_time_column(name: &str) -> bool {
    name.ends_with("_at") || name == "disruption_start" || name == "disruption_end"
}

/// A field that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    fn new(field: &str, reason: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// Splits a list cell: `a; b;c` (CSV) into trimmed, non-empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([';', '|'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// `jurisdictions` as the regimes test it (`uk`, `eu`), from what people write (`GB`,
/// `United Kingdom`, `IE`, `EEA`...). A value that names neither is a problem on the row,
/// never silently a missing UK or EU clock.
fn jurisdictions(written: List, problems: &mut Vec<FieldError>) -> List {
    let mut found: Vec<String> = Vec::new();
    for item in written.items() {
        match crate::util::countries::jurisdiction(item) {
            Some(j) if found.iter().any(|f| f == j) => {}
            Some(j) => found.push(j.to_string()),
            None => problems.push(FieldError::new(
                "jurisdictions",
                format!(
                    "{item:?} is neither uk nor eu (UK, GB, EU, EEA and EU Member State codes are understood); ignored"
                ),
            )),
        }
    }
    List::from_items(&found)
}

fn parse_bool(field: &str, v: &str) -> Result<bool, FieldError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        "" => Err(FieldError::new(field, "is empty (use true or false)")),
        other => Err(FieldError::new(
            field,
            format!("{other:?} is not true or false"),
        )),
    }
}

/// A built incident with the problems found in fields it could do without, or the reason
/// the whole row is rejected (no id, or no usable `aware_at`).
pub type Built = Result<(Incident, Vec<FieldError>), FieldError>;

/// What a field that cannot be read comes to when the row is kept anyway.
const IGNORED: &str =
    "the field is ignored: a clock it would stop stays open, a clock it would start does not start";

/// Builds an incident from (column, value) cells; the single validation path for every
/// input format.
///
/// Only a missing or empty `id` and a missing or unreadable `aware_at` reject the row:
/// every clock starts from `aware_at`, and nothing can be tracked without an id. Any other
/// bad field is a problem on a row that is kept, with the safe reading:
/// - a bad timestamp is ignored (a "done" field that cannot be read does not stop its
///   clock, so the clock stays visible, overdue if it is);
/// - a bad or missing `personal_data` is taken as `true`, so the personal-data clocks
///   stay visible until someone fixes it;
/// - a value outside a vocabulary is taken as empty (for `risk_to_individuals`: not yet
///   assessed, so the clocks run);
/// - a bad count is left empty; a missing title becomes `(no title)`.
pub fn build<'c, I>(cells: I, line: u64, tz: Tz) -> Built
where
    I: IntoIterator<Item = (&'c Column, &'c str)>,
{
    let mut id = None;
    let mut title = None;
    let mut aware_at = None;
    let mut personal_data = None;
    let mut problems: Vec<FieldError> = Vec::new();
    let mut times: Vec<(Arc<str>, DateTime<Utc>)> = Vec::new();
    let mut text: Vec<(Arc<str>, Box<str>)> = Vec::new();
    let mut inc = Incident {
        id: "".into(),
        title: "".into(),
        line,
        aware_at: DateTime::<Utc>::MIN_UTC,
        personal_data: false,
        codes: [0; 4],
        data_subjects: None,
        records: None,
        data_categories: List::default(),
        affected_services: List::default(),
        sectors: List::default(),
        jurisdictions: List::default(),
        times: Box::default(),
        text: Box::default(),
    };
    for (col, raw) in cells {
        let v = raw.trim();
        match col {
            Column::Id => {
                if v.is_empty() {
                    return Err(FieldError::new("id", "is empty"));
                }
                id = Some(v);
            }
            Column::Title => title = Some(v),
            Column::AwareAt => {
                if v.is_empty() {
                    return Err(FieldError::new(
                        "aware_at",
                        "is empty (every regulatory clock starts from it)",
                    ));
                }
                aware_at = Some(
                    parse_clock_timestamp(v, tz)
                        .map_err(|e| FieldError::new("aware_at", e.to_string()))?,
                );
            }
            Column::PersonalData => match parse_bool("personal_data", v) {
                Ok(b) => personal_data = Some(b),
                Err(e) => {
                    personal_data = Some(true);
                    problems.push(FieldError::new(
                        "personal_data",
                        format!(
                            "{}; taken as true, so the personal data clocks stay visible",
                            e.reason
                        ),
                    ));
                }
            },
            Column::Enum(pos) => {
                let (field, allowed) = VOCABULARY[*pos];
                inc.codes[*pos] = if v.is_empty() {
                    0
                } else {
                    match allowed.iter().position(|a| a.eq_ignore_ascii_case(v)) {
                        Some(n) => n as u8 + 1,
                        None => {
                            problems.push(FieldError::new(
                                field,
                                format!(
                                    "{v:?} is not one of {}; taken as empty (not known)",
                                    allowed.join(", ")
                                ),
                            ));
                            0
                        }
                    }
                };
            }
            Column::Count(name) => {
                if v.is_empty() {
                    continue;
                }
                let n: u64 = match v.parse() {
                    Ok(n) => n,
                    Err(_) => match v.replace([',', '_'], "").parse() {
                        Ok(n) => n,
                        Err(_) => {
                            problems.push(FieldError::new(
                                name,
                                format!("{v:?} is not a whole number; left empty"),
                            ));
                            continue;
                        }
                    },
                };
                if &**name == "records" {
                    inc.records = Some(n);
                } else {
                    inc.data_subjects = Some(n);
                }
            }
            Column::List(name) => {
                let items = List::parse(v);
                match &**name {
                    "data_categories" => inc.data_categories = items,
                    "affected_services" => inc.affected_services = items,
                    "sectors" => inc.sectors = items,
                    _ => inc.jurisdictions = jurisdictions(items, &mut problems),
                }
            }
            Column::Time(name) => {
                if v.is_empty() {
                    continue;
                }
                match parse_clock_timestamp(v, tz) {
                    Ok(t) => times.push((name.clone(), t)),
                    Err(e) => problems.push(FieldError::new(name, format!("{e}; {IGNORED}"))),
                }
            }
            Column::Text(name) => {
                if !v.is_empty() {
                    text.push((name.clone(), v.into()));
                }
            }
        }
    }
    inc.id = id
        .ok_or_else(|| FieldError::new("id", "is missing"))?
        .into();
    inc.aware_at = aware_at.ok_or_else(|| FieldError::new("aware_at", "is missing"))?;
    match title {
        Some(t) if !t.is_empty() => inc.title = t.into(),
        other => {
            let what = if other.is_some() {
                "is empty"
            } else {
                "is missing"
            };
            problems.push(FieldError::new(
                "title",
                format!("{what}; shown as (no title)"),
            ));
            inc.title = "(no title)".into();
        }
    }
    inc.personal_data = match personal_data {
        Some(b) => b,
        None => {
            problems.push(FieldError::new(
                "personal_data",
                "is missing; taken as true, so the personal data clocks stay visible",
            ));
            true
        }
    };
    inc.times = times.into_boxed_slice();
    inc.text = text.into_boxed_slice();
    check_order(&mut inc, &mut problems);
    Ok((inc, problems))
}

/// Catches timestamps that cannot be in that order. The row is kept and each is reported:
/// a clock that ends before it starts is a data error, not a met deadline.
fn check_order(inc: &mut Incident, problems: &mut Vec<FieldError>) {
    if let (Some(s), Some(e)) = (inc.time("disruption_start"), inc.time("disruption_end")) {
        if e < s {
            // Without a usable end the disruption counts as still going on, so a breached
            // tolerance shows rather than a negative outage.
            let mut times = std::mem::take(&mut inc.times).into_vec();
            times.retain(|(k, _)| &**k != "disruption_end");
            inc.times = times.into_boxed_slice();
            problems.push(FieldError::new(
                "disruption_end",
                "is before disruption_start; ignored, so the disruption counts as not over",
            ));
        }
    }
    if let Some(o) = inc.time("occurred_at") {
        if inc.aware_at < o {
            problems.push(FieldError::new(
                "aware_at",
                "is before occurred_at (the organisation cannot know before it happens); the clocks still start from aware_at",
            ));
        }
    }
    if let Some(r) = inc.time("resolved_at") {
        if r < inc.aware_at {
            problems.push(FieldError::new(
                "resolved_at",
                "is before aware_at (an incident cannot be resolved before anyone knew of it); kept as written",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<Column> {
        names.iter().map(|n| Column::for_name(n)).collect()
    }

    fn build_row(names: &[&str], vals: &[&str]) -> Built {
        let c = cols(names);
        build(
            c.iter().zip(vals.iter().copied()),
            2,
            chrono_tz::Europe::London,
        )
    }

    #[test]
    fn builds_a_minimal_incident() {
        let i = build_row(
            &[
                "id",
                "title",
                "aware_at",
                "personal_data",
                "ico_notified_at",
            ],
            &[
                "I-1",
                "x",
                "2026-07-01 09:00",
                "yes",
                "2026-07-02T10:00:00Z",
            ],
        )
        .unwrap()
        .0;
        assert!(i.personal_data);
        assert_eq!(i.aware_at.to_rfc3339(), "2026-07-01T08:00:00+00:00");
        assert!(matches!(i.field("ico_notified_at"), FieldValue::Time(_)));
        assert_eq!(i.field("risk_to_individuals"), FieldValue::Missing);
        let l = List::parse(" a; b ;;c ");
        assert_eq!(l.items().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(List::parse("uk;eu").contains("EU"));
        assert!(List::parse("").is_empty());
    }

    #[test]
    fn names_the_bad_field() {
        let (i, p) = build_row(
            &["id", "title", "aware_at", "personal_data", "severity"],
            &["I-1", "x", "2026-07-01 09:00", "no", "apocalyptic"],
        )
        .unwrap();
        assert_eq!(p[0].field, "severity");
        assert_eq!(i.severity(), "");
        let e = build_row(
            &["id", "title", "aware_at", "personal_data"],
            &["I-1", "x", "2026-03-29 01:15", "no"],
        )
        .unwrap_err();
        assert_eq!(e.field, "aware_at");
        assert!(e.reason.contains("does not exist"), "{}", e.reason);
    }
}
