//! Posting to a webhook. Each request has a timeout, so a server that hangs cannot hold
//! the cron job; 429, 5xx and no answer at all are retried with backoff, honouring
//! `Retry-After` (seconds or an HTTP date), within one budget of waiting for the whole
//! run. Anything else (a 4xx, a redirect) is not retried. Nothing here prints the URL:
//! it is a secret.

use std::io::Read;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Result};

/// Tries per message at most, however much budget is left.
const MAX_ATTEMPTS: u32 = 6;
/// The first backoff; it doubles on each retry, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A blocking HTTP client with the run's retry budget.
pub struct HttpPoster {
    agent: ureq::Agent,
    timeout: Duration,
    budget: Duration,
    budget_total: Duration,
}

/// Why one attempt did not deliver.
struct Refusal {
    what: String,
    retryable: bool,
    /// What the server asked for (`Retry-After`).
    wait: Option<Duration>,
}

impl HttpPoster {
    pub fn new(timeout: Duration, retry_budget: Duration) -> HttpPoster {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            // A webhook that redirects is misconfigured; following it would send the
            // signed payload somewhere else.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("regwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        HttpPoster {
            agent,
            timeout,
            budget: retry_budget,
            budget_total: retry_budget,
        }
    }

    /// Posts the JSON `body` to `url` until it is accepted (2xx), a refusal is final, or
    /// waiting again would pass the budget. `headers` is called for every attempt (a
    /// signature carries the time of sending).
    pub fn post(
        &mut self,
        url: &str,
        body: &[u8],
        headers: &dyn Fn() -> Vec<(&'static str, String)>,
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let refusal = match self.attempt(url, body, headers()) {
                Ok(()) => return Ok(()),
                Err(r) => r,
            };
            let tries = format!("{attempt} attempt(s)");
            if !refusal.retryable {
                bail!("{} ({tries}; not retried)", refusal.what);
            }
            if attempt >= MAX_ATTEMPTS {
                bail!("{} ({tries})", refusal.what);
            }
            let wait = refusal.wait.unwrap_or_else(|| backoff(attempt));
            if wait > self.budget {
                bail!(
                    "{} ({tries}; waiting {} s more would pass what is left of the run's {} s of retries, [alerts] retry_wait_seconds)",
                    refusal.what,
                    wait.as_secs_f64().ceil(),
                    self.budget_total.as_secs()
                );
            }
            self.budget -= wait;
            std::thread::sleep(wait);
        }
    }

    fn attempt(
        &self,
        url: &str,
        body: &[u8],
        headers: Vec<(&'static str, String)>,
    ) -> Result<(), Refusal> {
        let mut req = self
            .agent
            .post(url)
            .header("content-type", "application/json");
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let mut resp = match req.send(body) {
            Ok(r) => r,
            Err(e) => {
                let what = match e {
                    ureq::Error::Timeout(_) => {
                        format!("no answer within {} s", self.timeout.as_secs_f64())
                    }
                    e => e.to_string().replace(url, "<the webhook URL>"),
                };
                return Err(Refusal {
                    what,
                    retryable: true,
                    wait: None,
                });
            }
        };
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let wait = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let mut text = String::new();
        let _ = resp
            .body_mut()
            .as_reader()
            .take(300)
            .read_to_string(&mut text);
        let text: String = text
            .trim()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut what = format!("HTTP {status}");
        if !text.is_empty() {
            what.push_str(&format!(": {text}"));
        }
        if (300..400).contains(&status) {
            what.push_str(" (a redirect: not followed; check the URL)");
        }
        Err(Refusal {
            what,
            retryable: status == 429 || status >= 500,
            wait,
        })
    }
}

/// 1 s, 2 s, 4 s, ... after attempt 1, 2, 3, ..., at most `MAX_BACKOFF`.
fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << (attempt - 1).min(16))
        .min(MAX_BACKOFF)
}

/// `Retry-After`: a number of seconds, or an HTTP date (a date already past is 0).
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = httpdate::parse_http_date("Sat, 28 Nov 2026 12:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
