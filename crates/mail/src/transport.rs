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
    // 8bit keeps every line (and so a link on its own line) intact in the file; bodies that
    // cannot be 8bit (a line over 998 bytes) fall back to lettre's own choice.
    let text = Body::new_with_encoding(row.text_body.clone(), ContentTransferEncoding::EightBit)
        .unwrap_or_else(|_| Body::new(row.text_body.clone()));
    let html = Body::new_with_encoding(row.html_body.clone(), ContentTransferEncoding::EightBit)
        .unwrap_or_else(|_| Body::new(row.html_body.clone()));
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
