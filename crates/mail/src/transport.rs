//! Ways to hand a message over. `file` is the default; SMTP and SES join the enum later.

use kiln_store::outbox::MailRow;
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The message itself is unusable (a bad address): retrying will not help.
    #[error("message cannot be built: {0}")]
    Permanent(String),
    /// Delivery failed this time (disk full, server down): retry later.
    #[error("delivery failed: {0}")]
    Transient(String),
}

/// Builds the RFC 5322 bytes of an outbox row: `multipart/alternative` with text and HTML.
pub fn build_message(row: &MailRow, from: &str) -> Result<Vec<u8>, TransportError> {
    let perm = |e: &dyn std::fmt::Display| TransportError::Permanent(e.to_string());
    let from: Mailbox = from.parse().map_err(|e| perm(&e))?;
    let to: Mailbox = row.to_addr.parse().map_err(|e| perm(&e))?;
    let text = eight_bit(&row.text_body);
    let html = eight_bit(&row.html_body);
    let domain = from.email.domain().to_owned();
    let msg = Message::builder()
        .from(from)
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(format!("<outbox-{}-{}@{}>", row.id, row.created_at, domain)))
        .date_now()
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
        )
        .map_err(|e| perm(&e))?;
    Ok(msg.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(text: &str) -> MailRow {
        MailRow {
            id: 7,
            template: "t".into(),
            to_addr: "ada@example.com".into(),
            subject: "Hello".into(),
            text_body: text.into(),
            html_body: "<p>hi</p>".into(),
            created_at: 1,
            attempts: 0,
            next_attempt_at: 0,
            sent_at: None,
            last_error: None,
        }
    }

    #[test]
    fn long_links_stay_on_one_line() {
        let link = format!("https://kiln.example.com/verify?token={}", "A".repeat(60));
        let bytes = build_message(&row(&format!("Open:\n\n{link}\n\nBye")), "Kiln <k@example.com>")
            .expect("build");
        let text = String::from_utf8(bytes).expect("utf8");
        assert!(text.lines().any(|l| l.trim_end_matches('\r') == link), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: 8bit"));
        assert!(text.contains("To: ada@example.com"));
    }

    #[test]
    fn bad_addresses_are_permanent_failures() {
        let mut r = row("x");
        r.to_addr = "not an address".into();
        assert!(matches!(build_message(&r, "k@example.com"), Err(TransportError::Permanent(_))));
    }
}

/// An 8bit body when the text allows it (RFC 2045: lines of at most 998 octets, no NUL, no bare
/// CR), so every line, and so a link alone on its line, reaches the reader exactly as written.
/// lettre would pick quoted-printable for any line of 76 characters or more, which folds long
/// links with soft line breaks. Anything else falls back to lettre's own choice.
fn eight_bit(text: &str) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let ok =
        !crlf.contains('\0') && crlf.split("\r\n").all(|l| l.len() <= 998 && !l.contains('\r'));
    if ok {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
    } else {
        Body::new(text.to_owned())
    }
}

/// Writes each message as `<dir>/<id>.eml`, atomically.
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn send(&self, row: &MailRow, bytes: &[u8]) -> Result<(), TransportError> {
        let io = |e: std::io::Error| TransportError::Transient(e.to_string());
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        // Readers only ever see whole files: write a dot-file, flush it to disk, then rename.
        let name = format!("{:010}.eml", row.id);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let dest = self.dir.join(&name);
        let file = tokio::fs::File::create(&tmp).await.map_err(io)?;
        let mut file = file.into_std().await;
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            file.write_all(&bytes)?;
            file.sync_all()
        })
        .await
        .map_err(|e| TransportError::Transient(e.to_string()))?
        .map_err(io)?;
        tokio::fs::rename(&tmp, &dest).await.map_err(io)?;
        Ok(())
    }
}

/// Connection security of an SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Connect in plain text, then upgrade with STARTTLS (refused if the server cannot).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: only for a relay on the same machine or tests.
    None,
}

/// Sends through an SMTP server with lettre.
#[derive(Clone)]
pub struct SmtpTransport {
    inner: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    host: String,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport").field("host", &self.host).finish_non_exhaustive()
    }
}

impl SmtpTransport {
    pub fn new(
        host: &str,
        port: u16,
        security: SmtpSecurity,
        credentials: Option<(String, String)>,
    ) -> Result<Self, TransportError> {
        use lettre::AsyncSmtpTransport as T;
        let perm = |e: lettre::transport::smtp::Error| TransportError::Permanent(e.to_string());
        let mut b = match security {
            SmtpSecurity::StartTls => {
                T::<lettre::Tokio1Executor>::starttls_relay(host).map_err(perm)?
            }
            SmtpSecurity::Tls => T::<lettre::Tokio1Executor>::relay(host).map_err(perm)?,
            SmtpSecurity::None => T::<lettre::Tokio1Executor>::builder_dangerous(host),
        };
        b = b.port(port).timeout(Some(std::time::Duration::from_secs(30)));
        if let Some((user, pass)) = credentials {
            b = b
                .credentials(lettre::transport::smtp::authentication::Credentials::new(user, pass));
        }
        Ok(Self { inner: b.build(), host: host.to_owned() })
    }

    async fn send(&self, from: &str, to: &str, bytes: &[u8]) -> Result<(), TransportError> {
        use lettre::AsyncTransport;
        let envelope = envelope(from, to)?;
        self.inner.send_raw(&envelope, bytes).await.map(|_| ()).map_err(|e| {
            if e.is_permanent() {
                TransportError::Permanent(e.to_string())
            } else {
                TransportError::Transient(e.to_string())
            }
        })
    }
}

fn envelope(from: &str, to: &str) -> Result<lettre::address::Envelope, TransportError> {
    let perm = |e: &dyn std::fmt::Display| TransportError::Permanent(e.to_string());
    let from: Mailbox = from.parse().map_err(|e| perm(&e))?;
    let to: Mailbox = to.parse().map_err(|e| perm(&e))?;
    lettre::address::Envelope::new(Some(from.email), vec![to.email]).map_err(|e| perm(&e))
}

/// Sends through Amazon SES v2 (`SendEmail` with the raw message, so what arrives is exactly
/// what the file transport would have written).
#[derive(Clone, Debug)]
pub struct SesTransport {
    client: aws_sdk_sesv2::Client,
}

impl SesTransport {
    /// Region and credentials come from the usual AWS settings; `endpoint` overrides the URL
    /// (an SES-compatible server).
    pub async fn new(endpoint: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(e) = endpoint {
            loader = loader.endpoint_url(e);
        }
        let conf = loader.load().await;
        Self { client: aws_sdk_sesv2::Client::new(&conf) }
    }

    async fn send(&self, from: &str, to: &str, bytes: &[u8]) -> Result<(), TransportError> {
        use aws_sdk_sesv2::error::SdkError;
        use aws_sdk_sesv2::primitives::Blob;
        use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
        let envelope = envelope(from, to)?;
        let raw = RawMessage::builder()
            .data(Blob::new(bytes.to_vec()))
            .build()
            .map_err(|e| TransportError::Permanent(e.to_string()))?;
        let result = self
            .client
            .send_email()
            .from_email_address(from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(envelope.to().iter().map(|a| a.to_string()).collect()))
                    .build(),
            )
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => {
                let err = e.err();
                let detail = aws_sdk_sesv2::error::DisplayErrorContext(err).to_string();
                // Rejections of the message or sender will not pass on a retry; throttling and
                // server faults will.
                if err.is_message_rejected()
                    || err.is_mail_from_domain_not_verified_exception()
                    || err.is_account_suspended_exception()
                    || err.is_sending_paused_exception()
                    || err.is_bad_request_exception()
                {
                    Err(TransportError::Permanent(detail))
                } else {
                    Err(TransportError::Transient(detail))
                }
            }
            Err(e) => Err(TransportError::Transient(
                aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string(),
            )),
        }
    }
}

/// The configured way to deliver mail.
#[derive(Debug, Clone)]
pub enum Transport {
    File(FileTransport),
    Smtp(SmtpTransport),
    Ses(SesTransport),
}

impl Transport {
    /// Delivers one outbox row, sent from `from`.
    pub async fn send(&self, row: &MailRow, from: &str) -> Result<(), TransportError> {
        let bytes = build_message(row, from)?;
        match self {
            Transport::File(t) => t.send(row, &bytes).await,
            Transport::Smtp(t) => t.send(from, &row.to_addr, &bytes).await,
            Transport::Ses(t) => t.send(from, &row.to_addr, &bytes).await,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Transport::File(_) => "file",
            Transport::Smtp(_) => "smtp",
            Transport::Ses(_) => "ses",
        }
    }
}
