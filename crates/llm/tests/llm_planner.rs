//! The LLM planner end to end against a local HTTP server that speaks the chat-completions wire
//! format: the real `async-openai` client, real sockets, recorded requests.

use kiln_core::{Access, Feature, FieldType};
use kiln_llm::{LlmConfig, LlmError, LlmPlanner, PlanSource};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TODO: &str = "A todo list where I sign in and keep my own tasks, each with a title, a due \
                    date and a priority (low, medium, high).";

/// What the fake endpoint answers to the next request.
enum Reply {
    /// HTTP 200 with a chat completion whose message content is this.
    Chat(String),
    /// This status with this body (as `application/json` when it parses as JSON).
    Status(u16, String),
    /// Reads the request and never answers.
    Hang,
}

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    /// Lower-cased names.
    headers: Vec<(String, String)>,
    body: Value,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn messages(&self) -> &[Value] {
        self.body["messages"].as_array().map(Vec::as_slice).unwrap_or_default()
    }
}

/// A chat-completions endpoint on 127.0.0.1 that answers from a script and records requests.
struct FakeModel {
    base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeModel {
    async fn start(replies: Vec<Reply>) -> FakeModel {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
        let recorded = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (recorded, replies) = (recorded.clone(), replies.clone());
                tokio::spawn(async move {
                    serve(stream, recorded, replies).await;
                });
            }
        });
        FakeModel { base_url: format!("http://{addr}/v1"), requests }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    fn planner(&self) -> LlmPlanner {
        let mut cfg = LlmConfig::new(self.base_url.clone(), "test-model");
        cfg.api_key = Some("sk-test-key".into());
        cfg.timeout = Duration::from_secs(20);
        LlmPlanner::new(cfg)
    }
}

/// One request per connection (`Connection: close`), enough for the client.
async fn serve(
    mut stream: TcpStream,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let method = start.next().unwrap_or_default().to_owned();
    let path = start.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body: Value =
        serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
    let model = body["model"].as_str().unwrap_or("unknown").to_owned();
    recorded.lock().expect("lock").push(Recorded { method, path, headers, body });
    let reply = replies.lock().expect("lock").pop_front();
    let (status, body) = match reply {
        Some(Reply::Chat(content)) => (200, completion(&model, &content).to_string()),
        Some(Reply::Status(status, body)) => (status, body),
        Some(Reply::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        None => (500, "the test expected no more requests".to_owned()),
    };
    let content_type = if serde_json::from_str::<Value>(&body).is_ok() {
        "application/json"
    } else {
        "text/plain"
    };
    let response = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// A chat completion as OpenAI sends it.
fn completion(model: &str, content: &str) -> Value {
    json!({
        "id": "chatcmpl-kiln-test",
        "object": "chat.completion",
        "created": 1_767_225_600,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 812, "completion_tokens": 230, "total_tokens": 1042},
        "system_fingerprint": "fp_test"
    })
}

fn field(name: &str, label: &str, ty: &str, required: bool) -> Value {
    json!({"name": name, "label": label, "type": ty, "required": required,
           "values": null, "entity": null, "min": null, "max": null})
}

/// A good answer to [`TODO`], shaped as the strict schema asks (nulls included).
fn todo_answer() -> String {
    json!({
        "name": "Todo",
        "slug": "todo",
        "features": ["auth", "crud"],
        "entities": [{
            "name": "task", "label": "Task", "collection": "tasks", "access": "private",
            "fields": [
                field("title", "Title", "text", true),
                field("due_date", "Due date", "date", false),
                {"name": "priority", "label": "Priority", "type": "enum", "required": false,
                 "values": ["low", "medium", "high"], "entity": null, "min": null, "max": null}
            ]
        }]
    })
    .to_string()
}

/// The same answer with an entity named `auth`, which the runtime reserves.
fn reserved_answer() -> String {
    todo_answer().replace(r#""name":"task""#, r#""name":"auth""#)
}

/// Fails the test instead of hanging it if the planner never returns.
async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f).await.expect("the planner hung")
}

#[tokio::test]
async fn a_valid_answer_is_the_plan_and_the_request_is_a_structured_output_request() {
    let model =
        FakeModel::start(vec![Reply::Chat(todo_answer()), Reply::Chat(todo_answer())]).await;
    let planner = model.planner();

    let spec = within(planner.plan(TODO)).await.expect("planned");
    assert_eq!(spec.name, "Todo");
    assert_eq!(spec.slug, "todo");
    assert_eq!(spec.features, vec![Feature::Auth, Feature::Crud]);
    assert_eq!(spec.entities.len(), 1);
    let task = &spec.entities[0];
    assert_eq!(task.access, Some(Access::Private));
    assert_eq!(task.fields[1].ty, FieldType::Date);
    assert_eq!(
        task.fields[2].ty,
        FieldType::Enum { values: vec!["low".into(), "medium".into(), "high".into()] }
    );

    let reqs = model.requests();
    assert_eq!(reqs.len(), 1, "one request for a valid answer");
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(r.header("authorization"), Some("Bearer sk-test-key"));
    assert_eq!(r.body["model"], "test-model");
    let messages = r.messages();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"].as_str().unwrap_or_default().contains("AppSpec"));
    assert_eq!(messages[1]["role"], "user");
    assert!(messages[1]["content"].as_str().unwrap_or_default().contains(TODO));
    let format = &r.body["response_format"];
    assert_eq!(format["type"], "json_schema", "{format}");
    assert_eq!(format["json_schema"]["name"], "app_spec");
    assert_eq!(format["json_schema"]["strict"], true);
    let schema = &format["json_schema"]["schema"];
    assert_eq!(schema["required"], json!(["name", "slug", "features", "entities"]));
    assert_eq!(
        schema["properties"]["entities"]["items"]["properties"]["access"]["enum"][0],
        "private"
    );

    // The fallback function takes the model's plan and says so.
    let planned = within(kiln_llm::plan(Some(&planner), TODO)).await;
    assert_eq!(planned.source, PlanSource::Model);
    assert_eq!(planned.spec, spec);
    assert!(planned.note.contains("test-model"), "{}", planned.note);
}

#[tokio::test]
async fn an_invalid_answer_is_retried_once_with_the_validation_error() {
    let model =
        FakeModel::start(vec![Reply::Chat(reserved_answer()), Reply::Chat(todo_answer())]).await;

    let spec = within(model.planner().plan(TODO)).await.expect("planned on the retry");
    assert_eq!(spec.entities[0].name, "task");

    let reqs = model.requests();
    assert_eq!(reqs.len(), 2);
    let second = reqs[1].messages();
    assert_eq!(second.len(), 4, "system, description, first answer, correction");
    assert_eq!(second[2]["role"], "assistant");
    assert_eq!(second[2]["content"], reserved_answer().as_str());
    assert_eq!(second[3]["role"], "user");
    let correction = second[3]["content"].as_str().unwrap_or_default();
    assert!(correction.contains("entities[0].name"), "{correction}");
    assert!(correction.contains("\"auth\" is reserved by the runtime"), "{correction}");
    // The first request had no such message.
    assert_eq!(reqs[0].messages().len(), 2);
    assert_eq!(reqs[1].body["response_format"], reqs[0].body["response_format"]);
}

#[tokio::test]
async fn broken_json_is_retried_with_the_parse_error() {
    let broken = r#"{"name": "Todo", "slug": "todo", "features": ["crud"], "entities": [{"#;
    let model =
        FakeModel::start(vec![Reply::Chat(broken.into()), Reply::Chat(todo_answer())]).await;

    let spec = within(model.planner().plan(TODO)).await.expect("planned on the retry");
    assert_eq!(spec.name, "Todo");
    let reqs = model.requests();
    assert_eq!(reqs.len(), 2);
    let correction = reqs[1].messages()[3]["content"].as_str().unwrap_or_default().to_owned();
    assert!(correction.contains("not valid JSON"), "{correction}");
}

#[tokio::test]
async fn two_invalid_answers_fall_back_to_the_offline_plan() {
    let not_a_spec = json!({"title": "Todo", "tables": []}).to_string();
    let model = FakeModel::start(vec![
        Reply::Chat(reserved_answer()),
        Reply::Chat(reserved_answer()),
        Reply::Chat(reserved_answer()),
        Reply::Chat(not_a_spec),
    ])
    .await;
    let planner = model.planner();

    let planned = within(kiln_llm::plan(Some(&planner), TODO)).await;
    assert_eq!(planned.source, PlanSource::Fallback);
    assert_eq!(planned.spec, kiln_planner::plan(TODO));
    assert!(planned.note.contains("invalid twice"), "{}", planned.note);
    assert!(planned.note.contains("reserved by the runtime"), "{}", planned.note);
    assert!(planned.note.ends_with("planned offline"), "{}", planned.note);
    assert_eq!(model.requests().len(), 2, "one retry, no more");

    match within(planner.plan(TODO)).await {
        Err(LlmError::InvalidAnswer { reason }) => {
            assert!(reason.contains("not an AppSpec"), "{reason}");
        }
        other => panic!("expected InvalidAnswer, got {other:?}"),
    }
    assert_eq!(model.requests().len(), 4);
}

#[tokio::test]
async fn an_endpoint_that_is_down_falls_back_to_the_offline_plan() {
    // A port that was free a moment ago and has nobody listening now.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let planner = LlmPlanner::new(LlmConfig::new(format!("http://{addr}/v1"), "test-model"));

    match within(planner.plan(TODO)).await {
        Err(LlmError::Unreachable { base_url, reason }) => {
            assert_eq!(base_url, format!("http://{addr}/v1"));
            assert!(reason.to_lowercase().contains("refused"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let planned = within(kiln_llm::plan(Some(&planner), TODO)).await;
    assert_eq!(planned.source, PlanSource::Fallback);
    assert_eq!(planned.spec, kiln_planner::plan(TODO));
    assert!(planned.note.contains("could not be reached"), "{}", planned.note);

    let offline = within(kiln_llm::plan(None, TODO)).await;
    assert_eq!(offline.source, PlanSource::Offline);
    assert_eq!(offline.spec, planned.spec);
}

#[tokio::test]
async fn http_errors_are_clear_and_not_retried() {
    let unauthorized = json!({"error": {
        "message": "Incorrect API key provided: sk-test-key.",
        "type": "invalid_request_error", "param": null, "code": "invalid_api_key"
    }})
    .to_string();
    let model = FakeModel::start(vec![
        Reply::Status(500, "upstream model crashed".into()),
        Reply::Status(401, unauthorized.clone()),
        Reply::Status(401, unauthorized),
    ])
    .await;
    let planner = model.planner();

    let err = within(planner.plan(TODO)).await.expect_err("500");
    assert_eq!(
        err,
        LlmError::Status { status: 500, message: "upstream model crashed".into() },
        "{err}"
    );
    assert_eq!(model.requests().len(), 1, "a 500 is not retried");

    let err = within(planner.plan(TODO)).await.expect_err("401");
    match &err {
        LlmError::Status { status: 401, message } => {
            assert!(message.contains("Incorrect API key"), "{message}");
        }
        other => panic!("expected HTTP 401, got {other:?}"),
    }
    assert!(err.to_string().contains("KILN_LLM_API_KEY"), "{err}");
    assert_eq!(model.requests().len(), 2, "a 401 is not retried");

    let planned = within(kiln_llm::plan(Some(&planner), TODO)).await;
    assert_eq!(planned.source, PlanSource::Fallback);
    assert!(planned.note.contains("HTTP 401"), "{}", planned.note);
}

#[tokio::test]
async fn a_model_that_never_answers_times_out() {
    let model = FakeModel::start(vec![Reply::Hang]).await;
    let mut cfg = model.planner().config().clone();
    cfg.timeout = Duration::from_millis(300);
    let planner = LlmPlanner::new(cfg);

    let err = within(planner.plan(TODO)).await.expect_err("timeout");
    assert_eq!(err, LlmError::Timeout { after: Duration::from_millis(300) });
    assert_eq!(err.to_string(), "the model did not answer within 0.3 s");
    assert_eq!(model.requests().len(), 1);
}
