//! What a CloudTrail record granted or opened, read from its `requestParameters`: the
//! actions a policy document allows (`*` when it allows writing everything), a managed
//! policy attached, and facts the guardrails test through the `grants` field:
//! `shared:public` and `shared:<account>` (a trust policy, bucket policy or ACL, snapshot,
//! image or Lambda permission opened to everyone or to another account), `open:<port>`
//! (an admin port opened to 0.0.0.0/0 or ::/0), `for-user:<name>` (an access key or login
//! profile made for another user), `no-mfa` (a console sign-in without MFA) and `secret`
//! (a secret value or decrypted parameter read).

use serde_json::Value;

/// The `grants` text of a record: its items joined with `,`.
pub(super) fn grants(rec: &Value, event_name: &str, account: &str, admin_ports: &[u16]) -> String {
    let params = rec.get("requestParameters").filter(|p| p.is_object());
    let mut out: Vec<String> = Vec::new();
    if let Some(p) = params {
        policy_grants(event_name, p, &mut out);
        shared(event_name, p, account, &mut out);
        if event_name == "AuthorizeSecurityGroupIngress" {
            open_ports(p, admin_ports, &mut out);
        }
        if matches!(
            event_name,
            "CreateAccessKey" | "CreateLoginProfile" | "UpdateLoginProfile"
        ) {
            if let Some(user) = p.get("userName").and_then(Value::as_str) {
                if Some(user) != caller_user(rec) {
                    out.push(format!("for-user:{user}"));
                }
            }
        }
    }
    let decrypted = params
        .and_then(|p| p.get("withDecryption"))
        .and_then(Value::as_bool)
        == Some(true);
    let secret = match event_name {
        "GetSecretValue" | "BatchGetSecretValue" => true,
        "GetParameter" | "GetParameters" | "GetParametersByPath" => decrypted,
        _ => false,
    };
    if secret {
        out.push("secret".into());
    }
    if event_name == "ConsoleLogin"
        && rec
            .pointer("/additionalEventData/MFAUsed")
            .and_then(Value::as_str)
            == Some("No")
    {
        out.push("no-mfa".into());
    }
    out.dedup();
    out.join(",")
}

/// The caller's own user name, when it is an IAM user.
fn caller_user(rec: &Value) -> Option<&str> {
    let id = rec.get("userIdentity")?;
    if id.get("type").and_then(Value::as_str) != Some("IAMUser") {
        return None;
    }
    id.get("userName")
        .and_then(Value::as_str)
        .or_else(|| id.get("arn")?.as_str()?.rsplit('/').next())
}

/// A policy document held as JSON text (sometimes URL-encoded) or as an object.
fn document(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::String(s) => serde_json::from_str(s)
            .ok()
            .or_else(|| serde_json::from_str(&percent_decoded(s)).ok()),
        o @ Value::Object(_) => Some(o.clone()),
        _ => None,
    }
}

/// `%7B%22...` decoded (and `+` as a space); invalid escapes are kept as written.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

fn allows(st: &Value) -> bool {
    st.get("Effect").and_then(Value::as_str) != Some("Deny")
}

/// Reads only: `Get*`, `List*`, `Describe*` (and the like) after the service prefix.
fn read_only_action(action: &str) -> bool {
    let name = action.rsplit(':').next().unwrap_or(action);
    ["Get", "List", "Describe", "Head", "BatchGet", "Lookup"]
        .iter()
        .any(|p| name.len() > p.len() && name[..p.len()].eq_ignore_ascii_case(p))
}

/// What an identity policy change grants: the managed policy attached, or the actions
/// of its document; `*` when it allows every action, or a write action on every
/// resource. Detaching or deleting a policy grants nothing.
fn policy_grants(event_name: &str, p: &Value, out: &mut Vec<String>) {
    if event_name.starts_with("Detach") || event_name.starts_with("Delete") {
        return;
    }
    if event_name.starts_with("Attach") {
        if let Some(arn) = p.get("policyArn").and_then(Value::as_str) {
            out.push(arn.rsplit('/').next().unwrap_or(arn).to_string());
        }
        return;
    }
    if !matches!(
        event_name,
        "PutRolePolicy"
            | "PutUserPolicy"
            | "PutGroupPolicy"
            | "CreatePolicy"
            | "CreatePolicyVersion"
    ) {
        return;
    }
    let Some(doc) = document(p.get("policyDocument")) else {
        return;
    };
    let mut wild = false;
    let mut named = Vec::new();
    for st in statements(&doc).into_iter().filter(|s| allows(s)) {
        let on_all = strings(st.get("Resource")).contains(&"*") || st.get("NotResource").is_some();
        wild |= st.get("NotAction").is_some();
        for a in strings(st.get("Action")) {
            wild |= a == "*" || (on_all && !read_only_action(a));
            named.push(a.to_string());
        }
    }
    if wild {
        out.push("*".into());
    } else {
        out.extend(named);
    }
}

/// The account an AWS principal names (an ARN or a bare account id), or `*`.
fn principal_account(p: &str) -> Option<&str> {
    if p == "*" || p == "all" {
        return Some("*");
    }
    if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        return Some(p);
    }
    p.strip_prefix("arn:aws")?
        .split(':')
        .nth(3)
        .filter(|a| !a.is_empty())
}

/// `shared:public` or `shared:<account>` for each principal outside `account`.
fn share(principal: &str, account: &str, out: &mut Vec<String>) {
    match principal_account(principal) {
        Some("*") => out.push("shared:public".into()),
        Some(a) if a != account => out.push(format!("shared:{a}")),
        _ => {}
    }
}

/// Trust policies, bucket policies and ACLs, snapshots, images and Lambda permissions
/// opened to everyone or to other accounts.
fn shared(event_name: &str, p: &Value, account: &str, out: &mut Vec<String>) {
    let doc = match event_name {
        "CreateRole" => document(p.get("assumeRolePolicyDocument")),
        "UpdateAssumeRolePolicy" => document(p.get("policyDocument")),
        "PutBucketPolicy" => document(p.get("bucketPolicy").or_else(|| p.get("policy"))),
        _ => None,
    };
    if let Some(doc) = doc {
        for st in statements(&doc).into_iter().filter(|s| allows(s)) {
            match st.get("Principal") {
                Some(Value::String(s)) => share(s, account, out),
                Some(Value::Object(o)) => {
                    for a in strings(o.get("AWS")) {
                        share(a, account, out);
                    }
                }
                _ => {}
            }
        }
    }
    match event_name {
        "PutBucketAcl" => {
            let text = p.to_string();
            let public = [
                "AllUsers",
                "AuthenticatedUsers",
                "public-read",
                "authenticated-read",
            ];
            if public.iter().any(|w| text.contains(w)) {
                out.push("shared:public".into());
            }
        }
        "ModifySnapshotAttribute" | "ModifyImageAttribute" => {
            for key in [
                "/createVolumePermission/add/items",
                "/launchPermission/add/items",
            ] {
                for item in p
                    .pointer(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if item.get("group").and_then(Value::as_str) == Some("all") {
                        out.push("shared:public".into());
                    }
                    if let Some(id) = item.get("userId").and_then(Value::as_str) {
                        share(id, account, out);
                    }
                }
            }
        }
        "ModifyDBSnapshotAttribute" | "ModifyDBClusterSnapshotAttribute" => {
            for v in strings(p.get("valuesToAdd")) {
                share(v, account, out);
            }
        }
        n if n.starts_with("AddPermission") => {
            if let Some(pr) = p.get("principal").and_then(Value::as_str) {
                share(pr, account, out);
            }
        }
        _ => {}
    }
}

/// `open:<port>` for each admin port a rule opens to 0.0.0.0/0 or ::/0.
fn open_ports(p: &Value, admin_ports: &[u16], out: &mut Vec<String>) {
    let rules = p
        .pointer("/ipPermissions/items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for rule in rules {
        let world = ["/ipRanges/items", "/ipv6Ranges/items"].iter().any(|k| {
            rule.pointer(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|r| {
                    let cidr = r.get("cidrIp").or_else(|| r.get("cidrIpv6"));
                    matches!(cidr.and_then(Value::as_str), Some("0.0.0.0/0" | "::/0"))
                })
        });
        if !world {
            continue;
        }
        let all = matches!(
            rule.get("ipProtocol").and_then(Value::as_str),
            Some("-1" | "all")
        );
        let port = |k: &str| rule.get(k).and_then(Value::as_i64);
        let (from, to) = (
            port("fromPort").unwrap_or(0),
            port("toPort").unwrap_or(65535),
        );
        for &a in admin_ports {
            let a64 = i64::from(a);
            if all || (from <= a64 && a64 <= to) || (from == -1 && to == -1) {
                out.push(format!("open:{a}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(name: &str, params: Value) -> String {
        let rec = json!({"requestParameters": params, "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice", "userName": "alice"}});
        grants(&rec, name, "111111111111", &[22, 3389, 3306, 5432])
    }

    #[test]
    fn wildcard_policy_documents_grant_everything_and_reads_do_not() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        assert_eq!(of("PutRolePolicy", json!({"policyDocument": doc})), "*");
        let doc = r#"{"Statement":{"Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*"}}"#;
        assert_eq!(
            of("PutUserPolicy", json!({"policyDocument": doc})),
            "s3:GetObject"
        );
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;
        assert_eq!(
            of("PutUserPolicy", json!({"policyDocument": doc})),
            "ec2:Describe*"
        );
        let doc = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22iam%3APassRole%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        assert_eq!(of("PutRolePolicy", json!({"policyDocument": doc})), "*");
        let arn = "arn:aws:iam::aws:policy/AdministratorAccess";
        assert_eq!(
            of(
                "AttachRolePolicy",
                json!({"roleName": "r", "policyArn": arn})
            ),
            "AdministratorAccess"
        );
        assert_eq!(
            of(
                "DetachRolePolicy",
                json!({"roleName": "r", "policyArn": arn})
            ),
            ""
        );
    }

    #[test]
    fn sharing_and_opening_are_named() {
        let trust = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(
            of("UpdateAssumeRolePolicy", json!({"policyDocument": trust})),
            "shared:222222222222"
        );
        let own = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(
            of("CreateRole", json!({"assumeRolePolicyDocument": own})),
            ""
        );
        let sg = json!({"ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}});
        assert_eq!(of("AuthorizeSecurityGroupIngress", sg), "open:22");
        let web = json!({"ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}});
        assert_eq!(of("AuthorizeSecurityGroupIngress", web), "");
        assert_eq!(
            of("CreateAccessKey", json!({"userName": "bob"})),
            "for-user:bob"
        );
        assert_eq!(of("CreateAccessKey", json!({"userName": "alice"})), "");
        assert_eq!(
            of("ModifyDBSnapshotAttribute", json!({"valuesToAdd": ["all"]})),
            "shared:public"
        );
    }
}
