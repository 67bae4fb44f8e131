//! `wildcard-permission`: a permission change granting everything (`*`, `service:*`) or
//! one of the named all-powerful grants.

use anyhow::Result;

use crate::audit::event::{AuditEvent, Operation};
use crate::audit::model::Hit;

use super::hits::{hit, sentence, Quoted, Text};
use super::params::Params;

/// Grants that count as wildcards besides `*` and `...:*`.
#[derive(Debug, Clone)]
pub struct WildcardPermission {
    grants: Vec<String>,
}

impl WildcardPermission {
    pub fn parse(params: &Params) -> Result<WildcardPermission> {
        Ok(WildcardPermission {
            grants: params.strings(
                "grants",
                &["*", "*:*", "AdministratorAccess", "cluster-admin"],
            )?,
        })
    }
}

/// Hits on a batch of events.
#[inline]
pub fn check<'b>(
    policy: usize,
    w: &WildcardPermission,
    events: &[AuditEvent<'b>],
    out: &mut Vec<Hit<'b>>,
) {
    for e in events {
        if e.is(Operation::PermissionChange) && !e.grants.is_empty() {
            let wild = e
                .grants
                .split([',', ';', ' '])
                .map(str::trim)
                .any(|g| g == "*" || g.ends_with(":*") || w.grants.iter().any(|x| x == g));
            if wild {
                out.push(hit(
                    policy,
                    e,
                    e.change_id.clone(),
                    sentence(&[
                        Text(&e.actor),
                        Text(" granted "),
                        Quoted(&e.grants),
                        Text(" on "),
                        Text(&e.resource),
                    ]),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::hits::testing::{details, event, policy};
    use super::*;

    fn grant(grants: &'static str) -> AuditEvent<'static> {
        let mut e = event();
        (e.operation, e.grants) = (Operation::PermissionChange, Cow::Borrowed(grants));
        e
    }

    fn wildcard() -> WildcardPermission {
        let p = policy("wildcard-permission", "");
        WildcardPermission::parse(&Params { policy: &p }).expect("params")
    }

    #[test]
    fn a_wildcard_or_named_grant_is_a_hit() {
        let mut out = Vec::new();
        let events = [grant("s3:GetObject, s3:*"), grant("cluster-admin")];
        check(0, &wildcard(), &events, &mut out);
        assert_eq!(
            details(&out),
            [
                "agent-7 granted \"s3:GetObject, s3:*\" on db/orders",
                "agent-7 granted \"cluster-admin\" on db/orders"
            ]
        );
    }

    #[test]
    fn a_narrow_grant_is_no_hit() {
        let mut out = Vec::new();
        let mut not_a_grant = event();
        not_a_grant.grants = Cow::Borrowed("*");
        check(
            0,
            &wildcard(),
            &[grant("s3:GetObject"), not_a_grant],
            &mut out,
        );
        assert!(out.is_empty());
    }
}
