//! Email templates (one folder per email) and queueing a rendered email in the outbox.

use kiln_store::outbox::{self, NewMail};
use kiln_store::{Millis, StoreError, Tx};
use minijinja::Environment;
use serde::Serialize;

/// The emails Kiln knows, as `(name, subject, text, html)`.
macro_rules! template {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../templates/", $name, "/subject.txt")),
            include_str!(concat!("../templates/", $name, "/text.txt")),
            include_str!(concat!("../templates/", $name, "/html.html")),
        )
    };
}

/// The emails Kiln knows, as `(name, subject, text, html)`.
const TEMPLATES: &[(&str, &str, &str, &str)] = &[
    template!("verify_email"),
    template!("reset_password"),
    template!("reset_unknown"),
    template!("email_change_verify"),
    template!("email_change_notice"),
    template!("app_live"),
    template!("app_needs_confirmation"),
    template!("generation_failed"),
    template!("app_healed"),
    template!("app_invite"),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("no email template named {0:?}")]
    Unknown(String),
    #[error("rendering email template {name:?}: {source}")]
    Render {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders templates and queues the result in the outbox.
#[derive(Debug)]
pub struct Mailer {
    env: Environment<'static>,
}

impl Default for Mailer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mailer {
    pub fn new() -> Self {
        let mut env = Environment::new();
        // Keep the text exactly as written: a link must stay alone on its line.
        env.set_keep_trailing_newline(true);
        for (name, subject, text, html) in TEMPLATES {
            // The extension decides escaping: `.html` is HTML-escaped, `.txt` is not.
            for (part, src) in [("subject.txt", subject), ("text.txt", text), ("html.html", html)] {
                env.add_template_owned(format!("{name}/{part}"), *src)
                    .expect("built-in email templates parse");
            }
        }
        Self { env }
    }

    /// Renders the email `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: &impl Serialize) -> Result<Rendered, TemplateError> {
        if !TEMPLATES.iter().any(|(n, ..)| *n == name) {
            return Err(TemplateError::Unknown(name.to_owned()));
        }
        let part = |p: &str| -> Result<String, TemplateError> {
            self.env
                .get_template(&format!("{name}/{p}"))
                .and_then(|t| t.render(ctx))
                .map_err(|source| TemplateError::Render { name: name.to_owned(), source })
        };
        Ok(Rendered {
            // A subject is one line whatever the template or its inputs contain.
            subject: part("subject.txt")?.split_whitespace().collect::<Vec<_>>().join(" "),
            text: part("text.txt")?,
            html: part("html.html")?,
        })
    }

    /// Renders `name` and writes it to the outbox inside `tx`: the email is sent exactly when the
    /// transaction commits.
    pub async fn enqueue(
        &self,
        tx: &mut Tx,
        to: &str,
        name: &str,
        ctx: &impl Serialize,
        now: Millis,
    ) -> Result<i64, TemplateError> {
        let r = self.render(name, ctx)?;
        let mail =
            NewMail { template: name, to, subject: &r.subject, text: &r.text, html: &r.html };
        Ok(outbox::enqueue(tx, &mail, now).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_email_puts_the_link_on_its_own_line_and_escapes_html() {
        let m = Mailer::new();
        let link = "http://localhost:3000/verify?token=abc_DEF-123";
        let r = m
            .render(
                "verify_email",
                &serde_json::json!({"link": link, "email": "<b>x</b>@example.com", "hours": 24}),
            )
            .expect("render");
        assert_eq!(r.subject, "Confirm your email address for Kiln");
        assert!(r.text.lines().any(|l| l == link), "{}", r.text);
        assert!(r.html.contains("&lt;b&gt;x&lt;&#x2f;b&gt;") || r.html.contains("&lt;b&gt;x"));
        assert!(!r.html.contains("<b>x</b>"));
        assert!(r.text.contains("24 hours"));
    }

    #[test]
    fn every_template_renders_with_its_link_alone_on_a_line() {
        let m = Mailer::new();
        let link = "https://kiln.example.com/some/path?token=abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFGH";
        let ctx = serde_json::json!({
            "link": link, "email": "a@example.com", "old": "a@example.com",
            "new": "b@example.com", "hours": 24, "minutes": 60, "days": 7,
            "signup": "https://kiln.example.com/signup",
        });
        for (name, ..) in TEMPLATES {
            let r = m.render(name, &ctx).expect(name);
            assert!(!r.subject.is_empty() && !r.subject.contains('\n'), "{name}");
            if *name != "reset_unknown" {
                assert!(r.text.lines().any(|l| l == link), "{name}: {}", r.text);
            }
            assert!(!r.text.contains("{{") && !r.html.contains("{{"), "{name}");
        }
    }

    #[test]
    fn unknown_template_is_an_error() {
        let err = Mailer::new().render("nope", &()).expect_err("unknown");
        assert!(matches!(err, TemplateError::Unknown(_)));
    }
}
