#![doc = include_str!("../README.md")]

mod answer;
mod config;
mod prompt;

pub use config::{DEFAULT_MODEL, DEFAULT_TIMEOUT, LlmConfig};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, FinishReason, ResponseFormat, ResponseFormatJsonSchema,
};
use kiln_core::AppSpec;
use serde::Serialize;
use std::fmt;
use std::time::Duration;
use tracing::instrument;

/// Why the model gave no usable plan. Messages name the cause and never the API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// Nothing to plan.
    #[error("the description is empty")]
    EmptyDescription,
    /// The endpoint could not be reached (connection refused, DNS, TLS).
    #[error("the model's endpoint {base_url} could not be reached: {reason}")]
    Unreachable { base_url: String, reason: String },
    /// No answer within [`LlmConfig::timeout`].
    #[error("the model did not answer within {}", seconds(*after))]
    Timeout { after: Duration },
    /// The endpoint answered with an HTTP error status.
    #[error("the model's endpoint answered HTTP {status}: {message}{}", status_hint(*status))]
    Status { status: u16, message: String },
    /// The endpoint answered something that is not a chat completion.
    #[error("the model's endpoint gave an unreadable answer: {0}")]
    BadResponse(String),
    /// Both answers were unusable; `reason` is why the second one was.
    #[error("the model's answers were invalid twice ({reason})")]
    InvalidAnswer { reason: String },
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (check KILN_LLM_API_KEY)",
        404 => " (check KILN_LLM_MODEL and that KILN_LLM_BASE_URL ends with /v1)",
        429 => " (rate limited or out of quota)",
        _ => "",
    }
}

/// Plans app descriptions through an OpenAI-compatible chat-completions endpoint.
/// Cheap to clone (the HTTP client is shared).
#[derive(Clone)]
pub struct LlmPlanner {
    client: Client<OpenAIConfig>,
    cfg: LlmConfig,
}

impl fmt::Debug for LlmPlanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmPlanner").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl LlmPlanner {
    /// A planner for `cfg`; nothing is sent until [`plan`](Self::plan).
    pub fn new(cfg: LlmConfig) -> Self {
        // Everything explicit: `OpenAIConfig::new()` would otherwise pick up OPENAI_API_KEY,
        // OPENAI_ORG_ID and OPENAI_PROJECT_ID and send them to whatever endpoint this is.
        let openai = OpenAIConfig::new()
            .with_api_base(cfg.base_url.clone())
            .with_api_key(cfg.api_key.clone().unwrap_or_default())
            .with_org_id("")
            .with_project_id("");
        // A plain reqwest service instead of the client's default executor, which retries 429,
        // 5xx and connection errors up to three times: here a failing endpoint means planning
        // offline at once, and `plan` makes at most two requests.
        let client = Client::with_config(openai).with_http_service(ReqwestService::default());
        Self { client, cfg }
    }

    /// The planner for `KILN_LLM_*` (see [`LlmConfig::from_env`]); `None` when no endpoint is
    /// configured.
    pub fn from_env() -> Option<Self> {
        LlmConfig::from_env().map(Self::new)
    }

    /// The endpoint, model and timeout this planner uses.
    pub fn config(&self) -> &LlmConfig {
        &self.cfg
    }

    /// Plans through the model: at most two requests, the second carrying the reason the
    /// first answer could not be used. Errors of the endpoint (unreachable, timeout, HTTP
    /// status) are not retried. The description is cut at
    /// [`kiln_planner::MAX_DESCRIPTION`] characters, as the offline planner does.
    #[instrument(skip_all, err(level = "warn"), fields(model = %self.cfg.model))]
    pub async fn plan(&self, description: &str) -> Result<AppSpec, LlmError> {
        let description: String =
            description.trim().chars().take(kiln_planner::MAX_DESCRIPTION).collect();
        if description.is_empty() {
            return Err(LlmError::EmptyDescription);
        }
        let mut messages: Vec<ChatCompletionRequestMessage> = vec![
            ChatCompletionRequestSystemMessage::from(prompt::system_prompt()).into(),
            ChatCompletionRequestUserMessage::from(prompt::user_prompt(&description)).into(),
        ];
        let first = self.ask(&messages).await?;
        let reason = match first.read() {
            Ok(spec) => return Ok(spec),
            Err(reason) => reason,
        };
        tracing::info!(%reason, "the model's first answer is invalid; asking again");
        messages.push(ChatCompletionRequestAssistantMessage::from(first.content).into());
        messages.push(ChatCompletionRequestUserMessage::from(prompt::correction(&reason)).into());
        let second = self.ask(&messages).await?;
        second.read().map_err(|reason| LlmError::InvalidAnswer { reason })
    }

    /// One chat-completion request; the answer's text, or why there is none.
    async fn ask(&self, messages: &[ChatCompletionRequestMessage]) -> Result<Answer, LlmError> {
        let request = CreateChatCompletionRequest {
            model: self.cfg.model.clone(),
            messages: messages.to_vec(),
            response_format: Some(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    name: prompt::SCHEMA_NAME.into(),
                    description: Some("The plan of a web app (Kiln AppSpec)".into()),
                    schema: prompt::answer_schema(),
                    strict: Some(true),
                },
            }),
            ..Default::default()
        };
        let chat = self.client.chat();
        let response = tokio::time::timeout(self.cfg.timeout, chat.create(request))
            .await
            .map_err(|_| LlmError::Timeout { after: self.cfg.timeout })?
            .map_err(|e| self.map_error(e))?;
        let Some(choice) = response.choices.into_iter().next() else {
            return Ok(Answer { content: String::new(), note: Some("the answer has no choices") });
        };
        let note = match (&choice.message.refusal, choice.finish_reason) {
            (Some(_), _) => Some("the model refused"),
            (_, Some(FinishReason::Length)) => Some("the answer was cut off at the token limit"),
            _ => None,
        };
        let content = choice.message.content.or(choice.message.refusal).unwrap_or_default();
        Ok(Answer { content, note })
    }

    /// Streams the answer to `user` under `system` (at most `max_tokens`): the text as it
    /// arrives, piece by piece. The first piece must come within the configured timeout.
    pub async fn chat_stream(
        &self,
        system: &str,
        user: &str,
        max_tokens: u32,
    ) -> Result<ChatStream, LlmError> {
        let request = CreateChatCompletionRequest {
            model: self.cfg.model.clone(),
            messages: vec![
                ChatCompletionRequestSystemMessage::from(system).into(),
                ChatCompletionRequestUserMessage::from(user).into(),
            ],
            max_completion_tokens: Some(max_tokens),
            ..Default::default()
        };
        let chat = self.client.chat();
        let stream = tokio::time::timeout(self.cfg.timeout, chat.create_stream(request))
            .await
            .map_err(|_| LlmError::Timeout { after: self.cfg.timeout })?
            .map_err(|e| self.map_error(e))?;
        let this = self.clone();
        Ok(Box::pin(futures_util::StreamExt::filter_map(stream, move |chunk| {
            let out = match chunk {
                Ok(c) => c
                    .choices
                    .into_iter()
                    .next()
                    .and_then(|choice| choice.delta.content)
                    .filter(|t| !t.is_empty())
                    .map(Ok),
                Err(e) => Some(Err(this.map_error(e))),
            };
            std::future::ready(out)
        })))
    }

    fn map_error(&self, e: OpenAIError) -> LlmError {
        match e {
            OpenAIError::ApiError(r) => LlmError::Status {
                status: r.status_code.as_u16(),
                message: clip(r.api_error.message.trim(), 300),
            },
            OpenAIError::Reqwest(e) if e.is_timeout() => {
                LlmError::Timeout { after: self.cfg.timeout }
            }
            OpenAIError::Reqwest(e) if e.is_decode() || e.is_body() => {
                LlmError::BadResponse(clip(&error_chain(&e), 300))
            }
            OpenAIError::Reqwest(e) => LlmError::Unreachable {
                base_url: self.cfg.base_url.clone(),
                reason: clip(&error_chain(&e), 300),
            },
            OpenAIError::JSONDeserialize(e, body) => {
                LlmError::BadResponse(format!("{e}; the body begins {:?}", clip(body.trim(), 200)))
            }
            other => LlmError::BadResponse(clip(&other.to_string(), 300)),
        }
    }
}

/// A streamed answer: its text in pieces, or the error that ended it.
pub type ChatStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<String, LlmError>> + Send>>;

/// The text of one answer and, when the endpoint said why it is incomplete, that.
struct Answer {
    content: String,
    note: Option<&'static str>,
}

impl Answer {
    fn read(&self) -> Result<AppSpec, String> {
        answer::read_answer(&self.content).map_err(|reason| match self.note {
            Some(note) => format!("{note}; {reason}"),
            None => reason,
        })
    }
}

/// An error and its sources ("error sending request …: client error (Connect): tcp connect
/// error: Connection refused"): reqwest's top-level message alone hides the cause.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Where a plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanSource {
    /// The configured model planned it.
    Model,
    /// No model is configured: the offline planner planned it.
    Offline,
    /// A model is configured but gave no usable plan: the offline planner planned it.
    Fallback,
}

/// A plan and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    pub spec: AppSpec,
    pub source: PlanSource,
    /// One line for people and logs, e.g. "planned by the model gpt-4o-mini" or "the model
    /// did not answer within 120 s; planned offline".
    pub note: String,
}

/// What a job or `POST /api/plan` uses: the model when one is configured, else — or after its
/// failure — the offline planner ([`kiln_planner::plan`]). Never fails; checks of the
/// description (empty, too long) are the caller's, as with
/// [`kiln_planner::plan_description`].
pub async fn plan(llm: Option<&LlmPlanner>, description: &str) -> Planned {
    let Some(llm) = llm else {
        return Planned {
            spec: kiln_planner::plan(description),
            source: PlanSource::Offline,
            note: "planned offline (no model is configured)".into(),
        };
    };
    match llm.plan(description).await {
        Ok(spec) => Planned {
            spec,
            source: PlanSource::Model,
            note: format!("planned by the model {}", llm.cfg.model),
        },
        Err(e) => {
            tracing::info!(error = %e, model = %llm.cfg.model, "planning offline instead");
            Planned {
                // The offline planner is pure computation taking milliseconds.
                spec: kiln_planner::plan(description),
                source: PlanSource::Fallback,
                note: format!("{}; planned offline", clip(&e.to_string(), 400)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_name_the_cause_and_a_hint() {
        let e = LlmError::Status { status: 401, message: "Incorrect API key".into() };
        assert_eq!(
            e.to_string(),
            "the model's endpoint answered HTTP 401: Incorrect API key (check KILN_LLM_API_KEY)"
        );
        let e = LlmError::Status { status: 500, message: "boom".into() };
        assert_eq!(e.to_string(), "the model's endpoint answered HTTP 500: boom");
    }

    #[test]
    fn clip_cuts_on_characters() {
        assert_eq!(clip("äöü", 2), "äö…");
        assert_eq!(clip("abc", 3), "abc");
    }

    #[test]
    fn planner_debug_hides_the_key() {
        let mut cfg = LlmConfig::new("http://127.0.0.1:9/v1", "m");
        cfg.api_key = Some("sk-hidden-123".into());
        let shown = format!("{:?}", LlmPlanner::new(cfg));
        assert!(!shown.contains("sk-hidden-123"), "{shown}");
    }
}
