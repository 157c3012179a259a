//! Validated inputs. `parse()` is the only way to build one, so a value of these types is valid.
//! The same rules run in the browser (instant feedback) and on the server (authoritative).

use crate::error::ApiError;
use std::fmt;

/// Shortest password accepted (NIST SP 800-63B allows 8; Kiln asks for 12, no composition rules).
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Longest password accepted; long enough for any passphrase, short enough to bound hashing work.
pub const PASSWORD_MAX_CHARS: usize = 256;
/// RFC 5321 limit on a whole address.
pub const EMAIL_MAX_LEN: usize = 254;

/// An email address, trimmed and lower-cased.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let s = raw.trim().to_lowercase();
        let bad = |msg: &str| Err(ApiError::invalid("email", msg));
        if s.is_empty() {
            return bad("Enter your email address.");
        }
        if s.len() > EMAIL_MAX_LEN {
            return bad("That email address is too long.");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c)) {
            return bad("That email address contains characters an address cannot have.");
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return bad("An email address needs an @, like name@example.com.");
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return bad("The part before the @ is not valid.");
        }
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !labels_ok || !(domain.contains('.') || domain == "localhost") {
            return bad("The part after the @ is not a valid domain.");
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

/// A password that meets the length rule. `Debug` never prints it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let n = raw.chars().count();
        if n < PASSWORD_MIN_CHARS {
            return Err(ApiError::invalid(
                "password",
                format!(
                    "Use at least {PASSWORD_MIN_CHARS} characters (you typed {n}). A few words \
                     in a row make a good password."
                ),
            ));
        }
        if n > PASSWORD_MAX_CHARS {
            return Err(ApiError::invalid(
                "password",
                format!("Use at most {PASSWORD_MAX_CHARS} characters."),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The label of a personal API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ApiError::invalid("name", "Give the token a name, such as \"laptop\"."));
        }
        if s.chars().count() > 64 {
            return Err(ApiError::invalid("name", "Use at most 64 characters."));
        }
        if s.chars().any(char::is_control) {
            return Err(ApiError::invalid("name", "The name cannot contain control characters."));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A redirect target taken from a request (`?next=…`), kept on this site: a path starting with
/// one `/`, with no backslash, control character or whitespace anywhere (browsers drop tabs and
/// newlines inside URLs, which would turn `/\t/evil.example` into `//evil.example`).
/// Anything else gives `fallback`.
pub fn local_redirect<'a>(next: Option<&'a str>, fallback: &'a str) -> &'a str {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && p.len() <= 2048
                && !p.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace()) =>
        {
            p
        }
        _ => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised() {
        let e = Email::parse("  Ada@Example.COM ").expect("valid");
        assert_eq!(e.as_str(), "ada@example.com");
    }

    #[test]
    fn email_rejects_bad_shapes() {
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a b@example.com",
            "ada@exa mple.com",
            "<script>@x.com",
            "ada@-x.com",
            "x'); DROP TABLE users;--@x.com",
        ] {
            let err = Email::parse(bad).expect_err(bad);
            assert!(err.field("email").is_some(), "{bad}: {err:?}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn password_length_rule_only() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("elevenchars").is_err());
        assert!(Password::parse("twelve chars").is_ok());
        assert!(Password::parse("aaaaaaaaaaaa").is_ok(), "no composition rules");
        // Characters, not bytes: 12 multi-byte characters are enough.
        assert!(Password::parse("ééééééééééé").is_err());
        assert!(Password::parse("éééééééééééé").is_ok());
        assert!(Password::parse(&"x".repeat(PASSWORD_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::parse("correct horse battery").expect("valid");
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(local_redirect(Some("/settings?x=1"), "/apps"), "/settings?x=1");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/x",
            "https://evil.example",
            "evil",
            "/ /x",
        ] {
            assert_eq!(local_redirect(Some(bad), "/apps"), "/apps", "{bad:?}");
        }
        assert_eq!(local_redirect(None, "/apps"), "/apps");
    }

    #[test]
    fn token_name_rules() {
        assert_eq!(TokenName::parse(" laptop ").expect("ok").as_str(), "laptop");
        assert!(TokenName::parse("   ").is_err());
        assert!(TokenName::parse("a\u{0}b").is_err());
        assert!(TokenName::parse(&"n".repeat(65)).is_err());
    }
}
