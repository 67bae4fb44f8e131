//! E-mail: one message per recipient (so a refused address holds back no other), each
//! with a `Message-ID` that stays the same on every try; sent by SMTP, written as `.eml`
//! files, or printed.

use anyhow::{Context, Result};
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{Message, Transport as _};

use super::message::{Alert, Delivery, Destination};
use crate::config::{SmtpConfig, SmtpSecurity};
use crate::error::bad_input;

/// The alert as a mail to `to`: the `To:` header lists every address of the role, the
/// envelope only `to`.
pub fn alert_message(alert: &Alert, from: &str, to: &str, id: &str) -> Result<(Message, Envelope)> {
    let from: Mailbox = parse_mailbox(from, "alerts.from")?;
    let domain = from.email.domain().to_string();
    let mut b = Message::builder()
        .from(from.clone())
        .subject(alert.subject.clone())
        .message_id(Some(format!("<{id}@{domain}>")));
    for r in &alert.recipients {
        if let Destination::Mail(addr) = r {
            b = b.to(parse_mailbox(addr, "recipient")?);
        }
    }
    let rcpt = parse_mailbox(to, "recipient")?;
    let envelope = Envelope::new(Some(from.email), vec![rcpt.email])
        .context("cannot build the mail envelope")?;
    let msg = b
        .header(ContentType::TEXT_PLAIN)
        .body(alert.body.clone())
        .context("cannot build the alert message")?;
    Ok((msg, envelope))
}

/// An address from the config, or an error naming where it came from.
pub fn parse_mailbox(text: &str, what: &str) -> Result<Mailbox> {
    text.parse()
        .map_err(|e| bad_input(format!("{what} {text:?} is not an address: {e}")))
}

/// Something that delivers mail.
pub enum MailSender {
    Smtp(lettre::SmtpTransport),
    File(lettre::FileTransport),
    Stdout,
}

impl MailSender {
    pub fn new(d: &Delivery) -> Result<MailSender> {
        Ok(match d {
            Delivery::Smtp(cfg) => MailSender::Smtp(smtp_transport(cfg)?),
            Delivery::Directory(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                MailSender::File(lettre::FileTransport::new(dir))
            }
            Delivery::Stdout => MailSender::Stdout,
        })
    }

    /// Sends `msg` to the envelope's recipients (the message's own `To:` when none).
    pub fn send(&self, msg: &Message, envelope: Option<&Envelope>) -> Result<()> {
        let envelope = envelope.unwrap_or(msg.envelope());
        let bytes = msg.formatted();
        match self {
            MailSender::Smtp(t) => {
                t.send_raw(envelope, &bytes)
                    .map_err(|e| anyhow::anyhow!("SMTP: {e}"))?;
            }
            MailSender::File(t) => {
                t.send_raw(envelope, &bytes)
                    .map_err(|e| anyhow::anyhow!("file delivery: {e}"))?;
            }
            MailSender::Stdout => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes)?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
        }
        Ok(())
    }
}

/// Builds the SMTP transport; credentials come from the environment variables named in
/// the config, and are used only if both are set.
pub fn smtp_transport(cfg: &SmtpConfig) -> Result<lettre::SmtpTransport> {
    use lettre::transport::smtp::authentication::Credentials;
    let mut b = match cfg.security {
        SmtpSecurity::None => lettre::SmtpTransport::builder_dangerous(&cfg.host),
        SmtpSecurity::Starttls => lettre::SmtpTransport::starttls_relay(&cfg.host)
            .with_context(|| format!("SMTP host {:?}", cfg.host))?,
        SmtpSecurity::Tls => lettre::SmtpTransport::relay(&cfg.host)
            .with_context(|| format!("SMTP host {:?}", cfg.host))?,
    };
    if let Some(port) = cfg.port {
        b = b.port(port);
    }
    b = b.timeout(Some(std::time::Duration::from_secs(cfg.timeout_seconds)));
    if let (Ok(user), Ok(pass)) = (
        std::env::var(&cfg.username_env),
        std::env::var(&cfg.password_env),
    ) {
        b = b.credentials(Credentials::new(user, pass));
    }
    Ok(b.build())
}

/// Sends one message now (a draft for review), failing with `DeliveryFailed`.
pub fn send_one(delivery: &Delivery, msg: &Message) -> Result<()> {
    MailSender::new(delivery)
        .and_then(|s| s.send(msg, None))
        .map_err(|e| {
            anyhow::Error::new(crate::error::DeliveryFailed {
                failed: 1,
                first_error: format!("{e:#}"),
            })
        })
}
