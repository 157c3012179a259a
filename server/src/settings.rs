//! Typed settings: command-line flags, then `KILN_*` environment variables, then `kiln.toml`,
//! then defaults that need nothing set. Secrets are wrapped so `Debug` and logs never show them.

use clap::{Args, ValueEnum};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A value that must never be printed.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignupMode {
    /// Anyone can sign up.
    Open,
    /// Only `kiln user add` creates accounts.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line (for log collectors).
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// Write each message as an .eml file into `$KILN_DATA_DIR/outbox/`.
    File,
    /// Send through an SMTP server (KILN_SMTP_*).
    Smtp,
    /// Send through Amazon SES v2 (AWS_* settings, KILN_SES_ENDPOINT).
    Ses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption (local relays and tests only).
    None,
}

/// Settings shared by every subcommand. Each flag can also be set by its environment variable
/// or by the key of the same name (snake_case) in the config file.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsArgs {
    /// Config file to read (TOML). Missing is fine unless given explicitly.
    #[arg(long, env = "KILN_CONFIG", global = true, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Where Kiln keeps its data: the SQLite database, the secret key, the mail outbox.
    /// [default: ./data]
    #[arg(long, env = "KILN_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Postgres URL (postgres://user:pass@host/db) to use instead of SQLite at
    /// $KILN_DATA_DIR/kiln.db. The password is never logged.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true, value_name = "URL")]
    pub database_url: Option<Secret>,

    /// Address the portal listens on. [default: 127.0.0.1:3000]
    #[arg(long, env = "KILN_ADDR", global = true, value_name = "HOST:PORT")]
    pub addr: Option<SocketAddr>,

    /// Address generated apps are served on, each on its own origin
    /// (http://<slug>.localhost:<port>/ unless KILN_APPS_DOMAIN is set). [default: 127.0.0.1:3001]
    #[arg(long, env = "KILN_APPS_ADDR", global = true, value_name = "HOST:PORT")]
    pub apps_addr: Option<SocketAddr>,

    /// Production: serve apps at https://<slug>.<domain>/ (a proxy in front terminates TLS).
    /// Must be a registrable domain other than the portal's, so apps never share its cookies.
    #[arg(long, env = "KILN_APPS_DOMAIN", global = true, value_name = "DOMAIN")]
    pub apps_domain: Option<String>,

    /// Public base URL of the portal, used in links in emails; https:// turns on Secure,
    /// prefixed cookies. [default: http://<KILN_ADDR>]
    #[arg(long, env = "KILN_PUBLIC_URL", global = true, value_name = "URL")]
    pub public_url: Option<String>,

    /// Whether anyone may sign up. [default: open]
    #[arg(long, env = "KILN_SIGNUP", global = true, value_enum)]
    pub signup: Option<SignupMode>,

    /// Secret (at least 32 bytes) that signs session tokens. [default: 32 random bytes
    /// generated once into $KILN_DATA_DIR/secret.key]
    #[arg(long, env = "KILN_SECRET_KEY", global = true, hide_env_values = true)]
    pub secret_key: Option<Secret>,

    /// Log format. [default: pretty]
    #[arg(long, env = "KILN_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    /// Log filter, in tracing's EnvFilter syntax. [default: info]
    #[arg(long, env = "KILN_LOG", global = true, value_name = "FILTER")]
    pub log: Option<String>,

    /// How mail is delivered. [default: file]
    #[arg(long, env = "KILN_MAIL_TRANSPORT", global = true, value_enum)]
    pub mail_transport: Option<MailTransport>,

    /// Seconds before the first retry of a failed delivery (doubling after each failure, capped
    /// at an hour). [default: 30]
    #[arg(long, env = "KILN_MAIL_RETRY_SECS", global = true, value_name = "SECS")]
    pub mail_retry_secs: Option<u64>,

    /// Sender of Kiln's emails. [default: Kiln <kiln@localhost>]
    #[arg(long, env = "KILN_MAIL_FROM", global = true, value_name = "MAILBOX")]
    pub mail_from: Option<String>,

    /// Account requests (sign-up, log-in, reset, verification, email change) allowed per minute
    /// from one IP address, per action. [default: 30]
    #[arg(long, env = "KILN_RATE_LIMIT_IP", global = true, value_name = "N")]
    pub rate_limit_ip: Option<u32>,

    /// Account requests allowed per hour for one account (by email), per action. [default: 20]
    #[arg(long, env = "KILN_RATE_LIMIT_ACCOUNT", global = true, value_name = "N")]
    pub rate_limit_account: Option<u32>,

    /// Take the client address from the last X-Forwarded-For hop (set when Kiln runs behind a
    /// reverse proxy that sets it). [default: false]
    #[arg(long, env = "KILN_TRUST_FORWARDED_FOR", global = true, value_name = "BOOL")]
    pub trust_forwarded_for: Option<bool>,

    /// SMTP server host (for KILN_MAIL_TRANSPORT=smtp).
    #[arg(long, env = "KILN_SMTP_HOST", global = true, value_name = "HOST")]
    pub smtp_host: Option<String>,

    /// SMTP port. [default: 587 for starttls, 465 for tls, 25 for none]
    #[arg(long, env = "KILN_SMTP_PORT", global = true, value_name = "PORT")]
    pub smtp_port: Option<u16>,

    /// SMTP connection security. [default: starttls]
    #[arg(long, env = "KILN_SMTP_TLS", global = true, value_enum)]
    pub smtp_tls: Option<SmtpTls>,

    /// SMTP user name (leave unset for no authentication).
    #[arg(long, env = "KILN_SMTP_USERNAME", global = true, value_name = "USER")]
    pub smtp_username: Option<String>,

    /// SMTP password. Never logged.
    #[arg(long, env = "KILN_SMTP_PASSWORD", global = true, hide_env_values = true)]
    pub smtp_password: Option<Secret>,

    /// Amazon SES endpoint override (for KILN_MAIL_TRANSPORT=ses), e.g. a local SES-compatible
    /// server. Region and credentials come from the usual AWS settings (AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, profiles, instance roles).
    #[arg(long, env = "KILN_SES_ENDPOINT", global = true, value_name = "URL")]
    pub ses_endpoint: Option<String>,

    /// Where the JS toolchain that checks generated apps is installed.
    /// [default: ~/.cache/kiln/toolchain]
    #[arg(long, env = "KILN_TOOLCHAIN_DIR", global = true, value_name = "DIR")]
    pub toolchain_dir: Option<PathBuf>,

    /// Generation workers inside `kiln serve`. [default: 2]
    #[arg(long, env = "KILN_WORKERS", global = true, value_name = "N")]
    pub workers: Option<usize>,

    /// An OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp server) that plans
    /// descriptions; unset: the offline planner. e.g. http://127.0.0.1:11434/v1
    #[arg(long, env = "KILN_LLM_BASE_URL", global = true, value_name = "URL")]
    pub llm_base_url: Option<String>,

    /// The model to ask. [default: gpt-4o-mini]
    #[arg(long, env = "KILN_LLM_MODEL", global = true, value_name = "NAME")]
    pub llm_model: Option<String>,

    /// The endpoint's API key, if it needs one. Never logged.
    #[arg(long, env = "KILN_LLM_API_KEY", global = true, hide_env_values = true)]
    pub llm_api_key: Option<Secret>,

    /// The model behind generated apps' chat (`POST /api/chat`), when it should not be the
    /// planner's: an OpenAI-compatible endpoint. [default: KILN_LLM_BASE_URL]
    #[arg(long, env = "KILN_APPS_CHAT_BASE_URL", global = true, value_name = "URL")]
    pub apps_chat_base_url: Option<String>,

    /// The apps' chat model. [default: KILN_LLM_MODEL, else gpt-4o-mini]
    #[arg(long, env = "KILN_APPS_CHAT_MODEL", global = true, value_name = "NAME")]
    pub apps_chat_model: Option<String>,

    /// The apps' chat endpoint's API key, if it needs one. Never logged.
    #[arg(long, env = "KILN_APPS_CHAT_API_KEY", global = true, hide_env_values = true)]
    pub apps_chat_api_key: Option<Secret>,

    /// Live connections one person may have open to shared descriptions. [default: 32]
    #[arg(long, env = "KILN_COLLAB_CONNECTIONS_PER_USER", global = true, value_name = "N")]
    pub collab_connections_per_user: Option<usize>,

    /// Apps one person may own. [default: 50]
    #[arg(long, env = "KILN_MAX_APPS", global = true, value_name = "N")]
    pub max_apps: Option<i64>,

    /// Generations one person may have queued or running at once. [default: 2]
    #[arg(long, env = "KILN_MAX_ACTIVE_JOBS", global = true, value_name = "N")]
    pub max_active_jobs: Option<i64>,

    /// How long a worker's claim on a job lasts without a heartbeat; a job whose worker died is
    /// taken over after this. [default: 30]
    #[arg(long, env = "KILN_JOB_LEASE_SECS", global = true, value_name = "SECONDS")]
    pub job_lease_secs: Option<u64>,

    /// Directory of the built portal assets (the wasm bundle, CSS). [default: $LEPTOS_SITE_ROOT
    /// or target/site]
    #[arg(long, env = "KILN_SITE_ROOT", global = true, value_name = "DIR")]
    pub site_root: Option<PathBuf>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: Option<Secret>,
    pub addr: SocketAddr,
    pub apps_addr: SocketAddr,
    /// `None`: apps at `<slug>.localhost:<apps port>`.
    pub apps_domain: Option<String>,
    /// `None`: derived from the address actually bound.
    pub public_url: Option<String>,
    pub signup: SignupMode,
    pub secret_key: Option<Secret>,
    pub log_format: LogFormat,
    pub log: String,
    pub mail_transport: MailTransport,
    pub mail_from: String,
    pub mail_retry_secs: u64,
    pub site_root: PathBuf,
    pub rate_limit_ip: u32,
    pub rate_limit_account: u32,
    pub trust_forwarded_for: bool,
    pub smtp: SmtpSettings,
    pub ses_endpoint: Option<String>,
    pub toolchain_dir: PathBuf,
    pub workers: usize,
    pub max_apps: i64,
    pub max_active_jobs: i64,
    pub job_lease_secs: u64,
    pub llm: Option<kiln_llm::LlmConfig>,
    /// The model behind apps' chat: its own when configured, else the planner's.
    pub apps_chat: Option<kiln_llm::LlmConfig>,
    pub collab_connections_per_user: usize,
}

/// How to reach the SMTP server.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: Option<String>,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

impl SettingsArgs {
    /// Fills each unset value from `other`.
    fn or(self, other: SettingsArgs) -> SettingsArgs {
        SettingsArgs {
            config: self.config.or(other.config),
            data_dir: self.data_dir.or(other.data_dir),
            database_url: self.database_url.or(other.database_url),
            addr: self.addr.or(other.addr),
            apps_addr: self.apps_addr.or(other.apps_addr),
            apps_domain: self.apps_domain.or(other.apps_domain),
            public_url: self.public_url.or(other.public_url),
            signup: self.signup.or(other.signup),
            secret_key: self.secret_key.or(other.secret_key),
            log_format: self.log_format.or(other.log_format),
            log: self.log.or(other.log),
            mail_transport: self.mail_transport.or(other.mail_transport),
            mail_from: self.mail_from.or(other.mail_from),
            mail_retry_secs: self.mail_retry_secs.or(other.mail_retry_secs),
            site_root: self.site_root.or(other.site_root),
            rate_limit_ip: self.rate_limit_ip.or(other.rate_limit_ip),
            rate_limit_account: self.rate_limit_account.or(other.rate_limit_account),
            trust_forwarded_for: self.trust_forwarded_for.or(other.trust_forwarded_for),
            smtp_host: self.smtp_host.or(other.smtp_host),
            smtp_port: self.smtp_port.or(other.smtp_port),
            smtp_tls: self.smtp_tls.or(other.smtp_tls),
            smtp_username: self.smtp_username.or(other.smtp_username),
            smtp_password: self.smtp_password.or(other.smtp_password),
            ses_endpoint: self.ses_endpoint.or(other.ses_endpoint),
            toolchain_dir: self.toolchain_dir.or(other.toolchain_dir),
            workers: self.workers.or(other.workers),
            llm_base_url: self.llm_base_url.or(other.llm_base_url),
            llm_model: self.llm_model.or(other.llm_model),
            llm_api_key: self.llm_api_key.or(other.llm_api_key),
            apps_chat_base_url: self.apps_chat_base_url.or(other.apps_chat_base_url),
            collab_connections_per_user: self
                .collab_connections_per_user
                .or(other.collab_connections_per_user),
            apps_chat_model: self.apps_chat_model.or(other.apps_chat_model),
            apps_chat_api_key: self.apps_chat_api_key.or(other.apps_chat_api_key),
            max_apps: self.max_apps.or(other.max_apps),
            max_active_jobs: self.max_active_jobs.or(other.max_active_jobs),
            job_lease_secs: self.job_lease_secs.or(other.job_lease_secs),
        }
    }

    /// Reads the config file (if any) and applies defaults.
    pub fn resolve(self) -> anyhow::Result<Settings> {
        use anyhow::Context;
        let (path, explicit) = match &self.config {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from("kiln.toml"), false),
        };
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<SettingsArgs>(&text)
                .with_context(|| format!("reading settings from {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                SettingsArgs::default()
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let a = self.or(file);
        let addr = a.addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000)));
        let public_url = a.public_url.map(|u| u.trim_end_matches('/').to_owned());
        if let Some(u) = &public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            anyhow::bail!("KILN_PUBLIC_URL must start with http:// or https://, got {u:?}");
        }
        let apps_domain = a
            .apps_domain
            .map(|d| d.trim().trim_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty());
        if let Some(d) = &apps_domain {
            if !d.contains('.') || d.contains(['/', ':', ' ']) {
                anyhow::bail!(
                    "KILN_APPS_DOMAIN must be a domain such as apps.example.net, got {d:?}"
                );
            }
            let portal = public_url
                .as_deref()
                .and_then(|u| u.split_once("://"))
                .map(|(_, rest)| rest.split(['/', ':']).next().unwrap_or("").to_ascii_lowercase());
            if let Some(p) = portal
                && (p == *d || p.ends_with(&format!(".{d}")) || d.ends_with(&format!(".{p}")))
            {
                anyhow::bail!(
                    "KILN_APPS_DOMAIN ({d}) must not share a domain with the portal ({p}): \
                     generated apps could then read or send the portal's cookies"
                );
            }
        }
        let site_root = a
            .site_root
            .or_else(|| std::env::var_os("LEPTOS_SITE_ROOT").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("target/site"));
        Ok(Settings {
            data_dir: a.data_dir.unwrap_or_else(|| PathBuf::from("./data")),
            database_url: a.database_url.filter(|u| !u.expose().is_empty()),
            addr,
            apps_addr: a.apps_addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3001))),
            apps_domain,
            public_url,
            signup: a.signup.unwrap_or(SignupMode::Open),
            secret_key: a.secret_key.filter(|k| !k.expose().is_empty()),
            log_format: a.log_format.unwrap_or(LogFormat::Pretty),
            log: a.log.unwrap_or_else(|| "info".to_owned()),
            mail_transport: a.mail_transport.unwrap_or(MailTransport::File),
            mail_from: a.mail_from.unwrap_or_else(|| "Kiln <kiln@localhost>".to_owned()),
            site_root,
            mail_retry_secs: a.mail_retry_secs.unwrap_or(30),
            rate_limit_ip: a.rate_limit_ip.unwrap_or(30),
            rate_limit_account: a.rate_limit_account.unwrap_or(20),
            trust_forwarded_for: a.trust_forwarded_for.unwrap_or(false),
            smtp: {
                let tls = a.smtp_tls.unwrap_or(SmtpTls::Starttls);
                SmtpSettings {
                    host: a.smtp_host,
                    port: a.smtp_port.unwrap_or(match tls {
                        SmtpTls::Starttls => 587,
                        SmtpTls::Tls => 465,
                        SmtpTls::None => 25,
                    }),
                    tls,
                    username: a.smtp_username,
                    password: a.smtp_password,
                }
            },
            ses_endpoint: a.ses_endpoint,
            toolchain_dir: a.toolchain_dir.unwrap_or_else(|| {
                // The sandbox's uid must reach the toolchain: root's home is private, so as root
                // the toolchain lives in the system cache.
                if kiln_sandbox::running_as_root() {
                    return PathBuf::from("/var/cache/kiln/toolchain");
                }
                let cache = std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                    .unwrap_or_else(|| PathBuf::from("."));
                cache.join("kiln").join("toolchain")
            }),
            workers: a.workers.unwrap_or(2),
            collab_connections_per_user: a.collab_connections_per_user.unwrap_or(32).max(1),
            apps_chat: match a.apps_chat_base_url.filter(|u| !u.trim().is_empty()) {
                Some(url) => {
                    let model = a.apps_chat_model.or_else(|| a.llm_model.clone());
                    let mut cfg = kiln_llm::LlmConfig::new(
                        url,
                        model.unwrap_or_else(|| kiln_llm::DEFAULT_MODEL.to_owned()),
                    );
                    cfg.api_key = a.apps_chat_api_key.map(|k| k.expose().to_owned());
                    Some(cfg)
                }
                None => a.llm_base_url.clone().filter(|u| !u.trim().is_empty()).map(|url| {
                    let mut cfg = kiln_llm::LlmConfig::new(
                        url,
                        a.apps_chat_model
                            .or_else(|| a.llm_model.clone())
                            .unwrap_or_else(|| kiln_llm::DEFAULT_MODEL.to_owned()),
                    );
                    cfg.api_key = a.llm_api_key.as_ref().map(|k| k.expose().to_owned());
                    cfg
                }),
            },
            llm: a.llm_base_url.filter(|u| !u.trim().is_empty()).map(|url| {
                let mut cfg = kiln_llm::LlmConfig::new(
                    url,
                    a.llm_model.unwrap_or_else(|| kiln_llm::DEFAULT_MODEL.to_owned()),
                );
                cfg.api_key = a.llm_api_key.map(|k| k.expose().to_owned());
                cfg
            }),
            max_apps: a.max_apps.unwrap_or(50).max(0),
            max_active_jobs: a.max_active_jobs.unwrap_or(2).max(0),
            job_lease_secs: a.job_lease_secs.unwrap_or(30).clamp(2, 3600),
        })
    }
}

impl Settings {
    /// Defaults with a data directory, for tests and embedding.
    pub fn for_data_dir(dir: &Path) -> Settings {
        SettingsArgs {
            data_dir: Some(dir.to_owned()),
            // Tests run many at once: generated apps on any free port.
            apps_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..Default::default()
        }
        .resolve()
        .expect("defaults resolve")
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("kiln.db")
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_nothing() {
        let s = SettingsArgs::default().resolve().expect("resolve");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert_eq!(s.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.apps_addr.to_string(), "127.0.0.1:3001");
        assert_eq!(s.signup, SignupMode::Open);
        assert!(s.database_url.is_none());
        assert_eq!(s.sqlite_path(), PathBuf::from("./data/kiln.db"));
    }

    #[test]
    fn flags_win_over_the_file_and_secrets_stay_hidden() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("kiln.toml");
        std::fs::write(
            &path,
            "data_dir = \"/from/file\"\nsignup = \"closed\"\n\
             database_url = \"postgres://u:hunter2@h/db\"\nsecret_key = \"s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\"\n",
        )
        .expect("write");
        let args = SettingsArgs {
            config: Some(path),
            data_dir: Some(PathBuf::from("/from/flag")),
            ..Default::default()
        };
        let s = args.resolve().expect("resolve");
        assert_eq!(s.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(s.signup, SignupMode::Closed);
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn bad_file_and_bad_url_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("kiln.toml");
        std::fs::write(&path, "nonsense_key = 1\n").expect("write");
        let err = SettingsArgs { config: Some(path), ..Default::default() }
            .resolve()
            .expect_err("unknown key");
        assert!(format!("{err:#}").contains("nonsense_key"), "{err:#}");
        let err = SettingsArgs { public_url: Some("ftp://x".into()), ..Default::default() }
            .resolve()
            .expect_err("bad url");
        assert!(err.to_string().contains("KILN_PUBLIC_URL"));
        let missing =
            SettingsArgs { config: Some(dir.path().join("absent.toml")), ..Default::default() };
        assert!(missing.resolve().is_err(), "an explicit config file must exist");
    }
}
