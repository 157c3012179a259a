//! Which model to ask: [`LlmConfig`], read from `KILN_LLM_*` environment variables.

use std::fmt;
use std::time::Duration;

/// The model used when `KILN_LLM_MODEL` is not set.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// How long one request may take when `KILN_LLM_TIMEOUT_SECS` is not set. Generous: a local
/// model on a CPU can take minutes to write a plan.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the OpenAI-compatible endpoint is and which model to ask.
#[derive(Clone, PartialEq, Eq)]
pub struct LlmConfig {
    /// The API base, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`;
    /// `/chat/completions` is appended to it.
    pub base_url: String,
    /// The model name the endpoint knows, e.g. `gpt-4o-mini` or `qwen2.5:7b`.
    pub model: String,
    /// Sent as `Authorization: Bearer …`; local servers usually need none. Never printed.
    pub api_key: Option<String>,
    /// The longest one request may take.
    pub timeout: Duration,
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl LlmConfig {
    /// A configuration for `base_url` and `model`, with no key and the default timeout.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: normalize_base_url(&base_url.into()),
            model: model.into(),
            api_key: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Reads `KILN_LLM_BASE_URL` (unset or empty: `None`, plan offline), `KILN_LLM_MODEL`
    /// (default [`DEFAULT_MODEL`]), `KILN_LLM_API_KEY` (optional) and `KILN_LLM_TIMEOUT_SECS`
    /// (default 120).
    pub fn from_env() -> Option<LlmConfig> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any source of variables (tests, settings files).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Option<LlmConfig> {
        let set = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let base_url = set("KILN_LLM_BASE_URL")?;
        let timeout = set("KILN_LLM_TIMEOUT_SECS")
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        Some(LlmConfig {
            base_url: normalize_base_url(&base_url),
            model: set("KILN_LLM_MODEL").unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
            api_key: set("KILN_LLM_API_KEY"),
            timeout,
        })
    }
}

/// Drops trailing slashes, and adds `/v1` to a bare host (`http://localhost:11434`), which is
/// where OpenAI, Ollama, vLLM and llama.cpp all serve the API.
fn normalize_base_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    if after_scheme.contains('/') { url.to_owned() } else { format!("{url}/v1") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn unset_or_empty_base_url_means_offline() {
        assert_eq!(LlmConfig::from_lookup(env(&[])), None);
        assert_eq!(LlmConfig::from_lookup(env(&[("KILN_LLM_BASE_URL", "  ")])), None);
        assert_eq!(LlmConfig::from_lookup(env(&[("KILN_LLM_MODEL", "llama3")])), None);
    }

    #[test]
    fn reads_every_variable_with_defaults() {
        let c = LlmConfig::from_lookup(env(&[("KILN_LLM_BASE_URL", "http://localhost:11434/")]))
            .expect("configured");
        assert_eq!(c.base_url, "http://localhost:11434/v1");
        assert_eq!(c.model, DEFAULT_MODEL);
        assert_eq!(c.api_key, None);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);

        let c = LlmConfig::from_lookup(env(&[
            ("KILN_LLM_BASE_URL", "https://api.example.test/openai/v1/"),
            ("KILN_LLM_MODEL", "qwen2.5:7b"),
            ("KILN_LLM_API_KEY", "sk-secret"),
            ("KILN_LLM_TIMEOUT_SECS", "30"),
        ]))
        .expect("configured");
        assert_eq!(c.base_url, "https://api.example.test/openai/v1");
        assert_eq!(c.model, "qwen2.5:7b");
        assert_eq!(c.api_key.as_deref(), Some("sk-secret"));
        assert_eq!(c.timeout, Duration::from_secs(30));
    }

    #[test]
    fn debug_never_prints_the_key() {
        let mut c = LlmConfig::new("http://127.0.0.1:8080/v1", "m");
        c.api_key = Some("sk-very-secret".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("[redacted]") && shown.contains("127.0.0.1:8080"), "{shown}");
    }
}
