//! `POST /api/chat` of an app with the `chat` feature: the configured model answers, streamed as
//! server-sent events (`data: {"delta": "…"}` pieces, then `data: [DONE]`; `event: error` if the
//! model fails part-way). The system prompt describes the app from its plan. Limited per app and
//! per end user (or address), with a daily token budget per app; without a model, 503.

use crate::{Live, Runtime};
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use kiln_core::{ApiError, ErrorCode, Feature, FieldType};
use serde_json::{Value, json};
use std::net::IpAddr;

/// Longest question.
pub const MAX_MESSAGE: usize = 4000;
/// Longest answer, in tokens.
pub const MAX_ANSWER_TOKENS: u32 = 600;

fn day(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

/// What the assistant is told about the app.
pub fn system_prompt(live: &Live) -> String {
    let spec = &live.spec;
    let mut s = format!(
        "You are the assistant inside the web app \"{}\". Answer the user's questions about using \
         it, briefly and plainly. You cannot see or change their records. The app keeps:\n",
        spec.name
    );
    for e in &spec.entities {
        let fields: Vec<String> = e
            .fields
            .iter()
            .map(|f| match &f.ty {
                FieldType::Enum { values } => {
                    format!("{} (one of: {})", f.label, values.join(", "))
                }
                _ => f.label.clone(),
            })
            .collect();
        s.push_str(&format!("- {} records: {}\n", e.label, fields.join(", ")));
    }
    if spec.features.contains(&Feature::Auth) {
        s.push_str("People sign up and log in; their records are kept under their account.\n");
    }
    s
}

fn limited(message: &str) -> ApiError {
    let mut e = ApiError::new(ErrorCode::RateLimited, message);
    e.retry_after = Some(60);
    e
}

pub async fn answer(
    rt: &Runtime,
    live: &Live,
    user: Option<i64>,
    ip: IpAddr,
    body: &Value,
) -> Result<Response, ApiError> {
    if live.spec.features.contains(&Feature::Auth) && user.is_none() {
        return Err(ApiError::new(ErrorCode::Unauthorized, "Log in to talk to the assistant."));
    }
    let Some(llm) = &rt.inner.config.chat else {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "The assistant is not available right now. Everything else in the app works as usual.",
        ));
    };
    let message = body.get("message").and_then(Value::as_str).unwrap_or("").trim();
    if message.is_empty() {
        return Err(ApiError::invalid("message", "Write a question first."));
    }
    if message.chars().count() > MAX_MESSAGE {
        return Err(ApiError::invalid(
            "message",
            format!("A question is at most {MAX_MESSAGE} characters."),
        ));
    }
    let who = user.map_or_else(|| format!("ip:{ip}"), |u| format!("user:{u}"));
    if rt.inner.chat_per_user.check_key(&(live.app_id, who)).is_err() {
        return Err(limited("You have asked a lot in the last minute; wait a moment."));
    }
    if rt.inner.chat_per_app.check_key(&live.app_id).is_err() {
        return Err(limited("The assistant is busy with this app's users; try again in a minute."));
    }
    let today = (live.app_id, day(rt.now()));
    let budget = rt.inner.config.chat_daily_tokens;
    let spent = rt
        .inner
        .chat_tokens
        .lock()
        .map(|mut m| {
            // Earlier days' counts are no longer needed.
            m.retain(|(_, d), _| *d >= today.1);
            m.get(&today).copied().unwrap_or(0)
        })
        .unwrap_or(0);
    if spent >= budget {
        return Err(limited(
            "The assistant has used up today's budget for this app; it is back tomorrow.",
        ));
    }
    let stream =
        llm.chat_stream(&system_prompt(live), message, MAX_ANSWER_TOKENS).await.map_err(|e| {
            tracing::warn!(app_id = live.app_id, error = %e, "chat: the model did not answer");
            ApiError::new(
                ErrorCode::Unavailable,
                "The assistant could not answer just now; try again.",
            )
        })?;
    let tokens = rt.inner.chat_tokens.clone();
    let events = futures_util::StreamExt::map(stream, move |piece| {
        let frame = match piece {
            Ok(text) => {
                let cost = text.chars().count().div_ceil(4) as u64;
                if let Ok(mut m) = tokens.lock() {
                    *m.entry(today).or_insert(0) += cost;
                }
                format!("data: {}\n\n", json!({ "delta": text }))
            }
            Err(e) => {
                tracing::warn!(error = %e, "chat: the model's stream failed");
                format!(
                    "event: error\ndata: {}\n\n",
                    json!({ "message": "The assistant stopped part-way; ask again." })
                )
            }
        };
        Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(frame))
    });
    let done = futures_util::stream::once(std::future::ready(Ok(axum::body::Bytes::from_static(
        b"data: [DONE]\n\n",
    ))));
    let body = Body::from_stream(futures_util::StreamExt::chain(events, done));
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
