//! `change-freeze`: a production change inside one of the declared freezes.

use anyhow::{bail, Context, Result};
use chrono_tz::Tz;

use crate::audit::event::AuditEvent;
use crate::audit::model::Hit;
use crate::clock::parse_timestamp;

use super::hits::{hit, is_prod, sentence, Quoted, Text};
use super::params::Params;

/// The freezes: name, start and end (milliseconds, end excluded).
#[derive(Debug, Clone)]
pub struct ChangeFreeze {
    freezes: Vec<(String, i64, i64)>,
}

impl ChangeFreeze {
    /// Times without a zone are in the display time zone.
    pub fn parse(params: &Params, display_tz: Tz) -> Result<ChangeFreeze> {
        let mut freezes = Vec::new();
        if let Some(toml::Value::Array(list)) = params.get("freezes") {
            for f in list {
                let get = |k: &str| -> Result<String> {
                    f.get(k)
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                        .with_context(|| format!("each freeze needs a {k}"))
                };
                let at = |k: &str| -> Result<i64> {
                    let t = get(k)?;
                    Ok(parse_timestamp(&t, display_tz)
                        .map_err(|e| anyhow::anyhow!("freeze {k}: {e}"))?
                        .timestamp_millis())
                };
                let (start, end) = (at("start")?, at("end")?);
                if end <= start {
                    bail!("freeze {:?} ends before it starts", get("name")?);
                }
                freezes.push((get("name")?, start, end));
            }
        }
        Ok(ChangeFreeze { freezes })
    }

    /// The freezes: name, start and end (milliseconds, end excluded).
    pub fn freezes(&self) -> &[(String, i64, i64)] {
        &self.freezes
    }
}

/// Hits on a batch of events (bit `k` of `in_prod`: `events[k]` is in production).
#[inline]
pub fn check<'b>(
    policy: usize,
    freeze: &ChangeFreeze,
    events: &[AuditEvent<'b>],
    in_prod: u64,
    out: &mut Vec<Hit<'b>>,
) {
    for (k, e) in events.iter().enumerate() {
        if e.operation.changes() && !e.dry_run && is_prod(in_prod, k) {
            if let Some((name, _, _)) = freeze
                .freezes
                .iter()
                .find(|(_, s, t)| e.at >= *s && e.at < *t)
            {
                out.push(hit(
                    policy,
                    e,
                    e.change_id.clone(),
                    sentence(&[
                        Text(&e.actor),
                        Text(" made a production "),
                        Text(e.operation.as_str()),
                        Text(" during the change freeze "),
                        Quoted(name),
                    ]),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::hits::testing::{details, event, policy, WEDNESDAY_10AM};
    use super::*;

    fn freeze() -> ChangeFreeze {
        let p = policy(
            "change-freeze",
            r#"freezes = [{ name = "Quarter end", start = "2026-03-04T09:00:00Z", end = "2026-03-04T10:00:00Z" }]"#,
        );
        ChangeFreeze::parse(&Params { policy: &p }, chrono_tz::UTC).expect("params")
    }

    #[test]
    fn a_production_change_inside_a_freeze_is_a_hit() {
        let mut e = event();
        e.at = WEDNESDAY_10AM - 1;
        let mut out = Vec::new();
        check(0, &freeze(), &[e], 1, &mut out);
        assert_eq!(
            details(&out),
            ["agent-7 made a production delete during the change freeze \"Quarter end\""]
        );
    }

    #[test]
    fn a_change_as_the_freeze_ends_or_a_dry_run_inside_it_is_no_hit() {
        let mut dry = event();
        (dry.at, dry.dry_run) = (WEDNESDAY_10AM - 1, true);
        let mut out = Vec::new();
        check(0, &freeze(), &[event(), dry], 0b11, &mut out);
        assert!(out.is_empty());
        let p = policy(
            "change-freeze",
            r#"freezes = [{ name = "x", start = "2026-03-04T10:00:00Z", end = "2026-03-04T09:00:00Z" }]"#,
        );
        let err = ChangeFreeze::parse(&Params { policy: &p }, chrono_tz::UTC);
        assert!(err.is_err(), "ends before it starts");
    }
}
