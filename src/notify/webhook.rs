//! A generic webhook signed as the Standard Webhooks specification says: headers
//! `webhook-id` (the same on every try of a message, so a receiver can drop a repeat),
//! `webhook-timestamp` (seconds since the epoch, at sending) and `webhook-signature`
//! (`v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed by the secret's
//! bytes: the secret is written `whsec_` and base64). The body is
//! `{"type", "timestamp", "data"}`, with the alert's text and what it was made from.

use anyhow::Result;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::message::Alert;
use crate::error::bad_input;

const SECRET_PREFIX: &str = "whsec_";

/// The signing key, from a `whsec_...` secret.
pub struct Signer {
    key: ring::hmac::Key,
}

impl Signer {
    /// Reads a `whsec_` + base64 secret; `origin` says where it came from, for the error.
    pub fn from_secret(secret: &str, origin: &str) -> Result<Signer> {
        let encoded = secret.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            bad_input(format!(
                "the webhook secret in {origin} does not start with {SECRET_PREFIX} (Standard Webhooks secrets are {SECRET_PREFIX} and base64)"
            ))
        })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
            .map_err(|e| {
                bad_input(format!(
                    "the webhook secret in {origin} is not base64 after {SECRET_PREFIX}: {e}"
                ))
            })?;
        if bytes.len() < 16 {
            return Err(bad_input(format!(
                "the webhook secret in {origin} is {} bytes; use at least 24 random bytes",
                bytes.len()
            )));
        }
        Ok(Signer {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes),
        })
    }

    /// The `webhook-signature` value for message `id` sent at `timestamp`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut ctx = ring::hmac::Context::with_key(&self.key);
        ctx.update(format!("{id}.{timestamp}.").as_bytes());
        ctx.update(body);
        let tag = ctx.sign();
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
        )
    }

    /// The three headers for one attempt, stamped with the time of sending.
    pub fn headers(&self, id: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        let timestamp = Utc::now().timestamp();
        vec![
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", self.sign(id, timestamp, body)),
        ]
    }
}

/// The body posted for `alert`; `now` is the run's time (`--now`).
pub fn payload(alert: &Alert, now: DateTime<Utc>) -> Value {
    json!({
        "type": format!("regwatch.alert.{}", alert.kind),
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {
            "key": alert.key,
            "threshold": alert.threshold,
            "covers": alert.covers,
            "items": alert.items,
            "subject": alert.subject,
            "text": alert.body,
            "details": alert.details,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_as_the_reference_implementation() {
        let signer = Signer::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "test").unwrap();
        let sig = signer.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_secret_without_its_prefix_or_not_base64_is_refused() {
        let e = Signer::from_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "$X")
            .err()
            .unwrap();
        assert!(e.to_string().contains("whsec_"), "{e}");
        let e = Signer::from_secret("whsec_not base64!", "$X")
            .err()
            .unwrap();
        assert!(e.to_string().contains("base64"), "{e}");
    }
}
