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
        .message_id(Some(format!(
            "<outbox-{}-{}@{}>",
            row.id, row.created_at, domain
        )))
        .date_now()
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
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
        let bytes = build_message(
            &row(&format!("Open:\n\n{link}\n\nBye")),
            "Kiln <k@example.com>",
        )
        .expect("build");
        let text = String::from_utf8(bytes).expect("utf8");
        assert!(
            text.lines().any(|l| l.trim_end_matches('\r') == link),
            "{text}"
        );
        assert!(text.contains("Content-Transfer-Encoding: 8bit"));
        assert!(text.contains("To: ada@example.com"));
    }

    #[test]
    fn bad_addresses_are_permanent_failures() {
        let mut r = row("x");
        r.to_addr = "not an address".into();
        assert!(matches!(
            build_message(&r, "k@example.com"),
            Err(TransportError::Permanent(_))
        ));
    }
}

/// An 8bit body when the text allows it (RFC 2045: lines of at most 998 octets, no NUL, no bare
/// CR), so every line, and so a link alone on its line, reaches the reader exactly as written.
/// lettre would pick quoted-printable for any line of 76 characters or more, which folds long
/// links with soft line breaks. Anything else falls back to lettre's own choice.
fn eight_bit(text: &str) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let ok = !crlf.contains('\0')
        && crlf
            .split("\r\n")
            .all(|l| l.len() <= 998 && !l.contains('\r'));
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

/// The configured way to deliver mail.
#[derive(Debug, Clone)]
pub enum Transport {
    File(FileTransport),
}

impl Transport {
    /// Delivers one outbox row, sent from `from`.
    pub async fn send(&self, row: &MailRow, from: &str) -> Result<(), TransportError> {
        let bytes = build_message(row, from)?;
        match self {
            Transport::File(t) => t.send(row, &bytes).await,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Transport::File(_) => "file",
        }
    }
}
