//! `POST /api/v1/chat` and `POST /api/v1/chat/stream`: a question about one repository
//! (`repository_url` or `files`) or one workflow run (`run_id`), answered from what pipewright
//! knows about it (see `pipewright_workflow::chat`). The handlers gather the context (the
//! analysis and the files the preview would give, or the run, its monitor task and a fresh
//! analysis of the committed branch) and render the answer; the stream sends the same answer
//! after `status` events naming each step, for a page that shows progress.

use super::repository::{self, Repository};
use crate::serve::error::{ApiError, ErrorBody, ErrorKind};
use crate::serve::extract::ApiJson;
use crate::serve::openapi::{CommonErrors, RepositoryErrors};
use crate::serve::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use pipewright_core::gitlab::ProjectRef;
use pipewright_core::runs::is_run_id;
use pipewright_workflow::chat::{self, ChatAnswer, ChatContext, ChatTurn, TemplateFact};
use pipewright_workflow::generate::{generate_from_source, validator_settings};
use pipewright_workflow::paths::{choose_path, GenerateSummary};
use pipewright_workflow::templates::{self, ListQuery};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::convert::Infallible;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The longest question accepted, in characters.
const MAX_MESSAGE_CHARS: usize = 4000;
/// The most history turns accepted.
const MAX_HISTORY: usize = 50;
/// Stored records listed in the context.
const TEMPLATES_IN_CONTEXT: usize = 20;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat_once))
        .routes(routes!(chat_stream))
}

/// A question and what it is about: exactly one of `repository_url`, `files` and `run_id`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "message": "Which port does the app listen on?",
    "files": {
        "app.py": "from flask import Flask\n\napp = Flask(__name__)\n",
        "requirements.txt": "flask==3.0.3\n"
    }
}))]
pub struct ChatRequest {
    /// The question (at most 4,000 characters).
    pub message: String,
    /// A GitLab project URL on the configured GitLab, or `group/project`.
    #[serde(default)]
    pub repository_url: Option<String>,
    /// Branch, tag or commit for `repository_url`.
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// The repository inline: relative path → file content.
    #[serde(default)]
    pub files: Option<BTreeMap<String, String>>,
    /// A workflow run (`run_…`): its steps, its pipeline attempts, failed jobs' log lines and
    /// fixes, and the committed files.
    #[serde(default)]
    pub run_id: Option<String>,
    /// The conversation so far, oldest first (at most 50 turns; a model sees the last 10).
    #[serde(default)]
    pub history: Vec<ChatTurn>,
}

/// What the question is about, checked.
enum Subject {
    Repository(Repository),
    Run(String),
}

impl ChatRequest {
    fn check(&mut self) -> Result<Subject, ApiError> {
        let message = self.message.trim();
        if message.is_empty() {
            return Err(ApiError::invalid_field(
                "message",
                "`message` is empty; ask a question such as \"which test framework and why?\"",
            ));
        }
        if message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ApiError::invalid_field(
                "message",
                format!("`message` is longer than {MAX_MESSAGE_CHARS} characters; ask a shorter question"),
            ));
        }
        if self.history.len() > MAX_HISTORY {
            return Err(ApiError::invalid_field(
                "history",
                format!(
                    "`history` has {} turns; send at most the last {MAX_HISTORY}",
                    self.history.len()
                ),
            ));
        }
        if let Some(turn) = self
            .history
            .iter()
            .find(|t| t.role != "user" && t.role != "assistant")
        {
            return Err(ApiError::invalid_field(
                "history",
                format!(
                    "a history turn has role `{}`; use `user` or `assistant`",
                    turn.role
                ),
            ));
        }
        match self.run_id.take() {
            Some(id) => {
                if self.repository_url.is_some() || self.files.is_some() {
                    return Err(ApiError::new(
                        ErrorKind::InvalidRequest,
                        "give exactly one of `repository_url`, `files` or `run_id`",
                    )
                    .field("run_id"));
                }
                if self.reference.is_some() {
                    return Err(ApiError::invalid_field(
                        "ref",
                        "`ref` goes with `repository_url`; a run names its own branch",
                    ));
                }
                if !is_run_id(&id) {
                    return Err(ApiError::invalid_field(
                        "run_id",
                        "not a run id; run ids look like `run_0193a4f2c1d0_5f3a9c21`",
                    ));
                }
                Ok(Subject::Run(id))
            }
            None => Repository::choose(
                self.repository_url.take(),
                self.reference.take(),
                self.files.take(),
                None,
            )
            .map(Subject::Repository)
            .map_err(|e| {
                if e.field.is_none() {
                    ApiError::new(
                        ErrorKind::InvalidRequest,
                        "name what the question is about: `repository_url` (a GitLab project), `files` ({\"path\": \"content\"}) or `run_id` (a workflow run)",
                    )
                } else {
                    e
                }
            }),
        }
    }
}

/// Answers a question about a repository or a run, with the sources the answer rests on.
/// Without an LLM the answer is pipewright's own (`answered_by: "pipewright"`).
#[utoipa::path(
    post,
    path = "/api/v1/chat",
    tag = "chat",
    request_body = ChatRequest,
    responses(
        (status = 200, description = "The answer and its sources", body = ChatAnswer),
        (status = 404, description = "No run has this id, or the project does not exist", body = ErrorBody),
        CommonErrors,
        RepositoryErrors,
    )
)]
async fn chat_once(
    State(state): State<AppState>,
    ApiJson(mut request): ApiJson<ChatRequest>,
) -> Result<Json<ChatAnswer>, ApiError> {
    let subject = request.check()?;
    let context = gather(&state, subject, &|_| {}).await?;
    let llm = state.llm.as_ref().ok().map(|l| l.as_ref());
    Ok(Json(
        chat::answer(&context, llm, request.message.trim(), &request.history).await,
    ))
}

/// The same question and answer as Server-Sent Events: `status` events (`{"step"}`) while the
/// context is gathered and the model asked, then one `answer` event (the `ChatAnswer`), or an
/// `error` event (the error body) when the context cannot be had. A request that is wrong is
/// refused before the stream starts, as JSON.
#[utoipa::path(
    post,
    path = "/api/v1/chat/stream",
    tag = "chat",
    request_body = ChatRequest,
    responses(
        (status = 200, description = "`text/event-stream`: `status` events, then `answer` (a ChatAnswer) or `error` (an ErrorBody)", content_type = "text/event-stream", body = String),
        CommonErrors,
    )
)]
async fn chat_stream(
    State(state): State<AppState>,
    ApiJson(mut request): ApiJson<ChatRequest>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let subject = request.check()?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    tokio::spawn(async move {
        let status = |step: &str| {
            let _ = tx.send(
                Event::default()
                    .event("status")
                    .data(json!({ "step": step }).to_string()),
            );
        };
        match gather(&state, subject, &status).await {
            Ok(context) => {
                let llm = state.llm.as_ref().ok().map(|l| l.as_ref());
                if let Some(l) = llm {
                    status(&format!("asking the model {}", l.model()));
                }
                let answer =
                    chat::answer(&context, llm, request.message.trim(), &request.history).await;
                let data = serde_json::to_string(&answer).unwrap_or_default();
                let _ = tx.send(Event::default().event("answer").data(data));
            }
            Err(e) => {
                let _ = tx.send(
                    Event::default()
                        .event("error")
                        .data(error_body(&e).to_string()),
                );
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// An error as the JSON body it would have been.
fn error_body(e: &ApiError) -> Value {
    let (_, code) = e.kind.status_and_code();
    json!({ "error": { "code": code, "message": e.message, "field": e.field } })
}

/// The context of a question; `status` is told each step.
async fn gather(
    state: &AppState,
    subject: Subject,
    status: &(dyn Fn(&str) + Sync),
) -> Result<ChatContext, ApiError> {
    let mut context = match subject {
        Subject::Repository(repository) => {
            status("reading the repository");
            let source = repository::open(state, repository).await?;
            status("analyzing and generating");
            preview(state, source).await?
        }
        Subject::Run(id) => {
            status("reading the run");
            from_run(state, &id, status).await?
        }
    };
    status("reading the stored templates");
    context.templates = stored_templates(state, &context).await;
    Ok(context)
}

/// What a preview would show, without the model: built-in generation, then the stored pair
/// when retrieval finds one. When no files can be generated, the analysis alone, with the
/// reason kept as a gap.
async fn preview(
    state: &AppState,
    source: Box<dyn pipewright_core::source::RepoSource>,
) -> Result<ChatContext, ApiError> {
    let settings = state.settings.clone();
    let for_generator = settings.clone();
    let (built_in, source) = crate::serve::blocking(move || {
        let built_in = generate_from_source(
            source.as_ref(),
            &for_generator.generator,
            &for_generator.allowed_hosts,
        );
        (built_in, source)
    })
    .await?;
    let built_in = match built_in {
        Ok(b) => b,
        Err(e) => {
            let gap = format!("no files could be generated: {e}");
            let profile = crate::serve::blocking(move || {
                pipewright_workflow::analyze::analyze_source(source.as_ref())
            })
            .await??;
            return Ok(ChatContext {
                profile: Some(profile),
                gaps: vec![gap],
                ..ChatContext::default()
            });
        }
    };
    let vsettings = validator_settings(&settings.generator, &settings.allowed_hosts);
    let mut options = state.path_options(false);
    // The chat explains; it does not spend model calls writing pipelines.
    options.llm = Err("the chat does not generate with the model".into());
    let (outcome, report) = choose_path(built_in, &options, &vsettings).await;
    Ok(from_summary(GenerateSummary::new(outcome, report)))
}

fn from_summary(s: GenerateSummary) -> ChatContext {
    ChatContext {
        profile: Some(s.profile),
        files: s.files,
        commit_tag: Some(s.commit_tag),
        retrieval: s.path.retrieval,
        explanation: s.explanation.iter().map(ToString::to_string).collect(),
        findings: s.findings,
        ..ChatContext::default()
    }
}

/// The run, its monitor task, and the committed branch analyzed again (for the evidence).
async fn from_run(
    state: &AppState,
    id: &str,
    status: &(dyn Fn(&str) + Sync),
) -> Result<ChatContext, ApiError> {
    let store = state.run_store()?;
    let Some(run) = store.get(id).await? else {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("no run has the id `{id}`; list runs with GET /api/v1/pipeline/runs"),
        )
        .field("run_id"));
    };
    let mut context = ChatContext {
        commit_tag: run
            .result
            .as_ref()
            .and_then(|r| r["commit_tag"].as_str())
            .map(str::to_string),
        ..ChatContext::default()
    };
    let monitor = match &state.monitor {
        Ok(m) => m.store().task(id).await?,
        Err(_) => None,
    };
    if let Some(task) = &monitor {
        context.files = task.files.clone();
        match &state.gitlab {
            Ok(client) => {
                status("analyzing the committed branch");
                let fetched = pipewright_adapters::gitlab::GitLabSource::fetch(
                    client.as_ref(),
                    &ProjectRef::Id(task.project_id),
                    Some(&task.branch),
                )
                .await;
                match fetched {
                    Ok(source) => {
                        match crate::serve::blocking(move || {
                            pipewright_workflow::analyze::analyze_source(&source)
                        })
                        .await?
                        {
                            Ok(profile) => context.profile = Some(profile),
                            Err(e) => context
                                .gaps
                                .push(format!("the branch could not be analyzed: {e}")),
                        }
                    }
                    Err(e) => context
                        .gaps
                        .push(format!("the branch could not be read from GitLab: {e}")),
                }
            }
            Err(unset) => context
                .gaps
                .push(format!("GitLab is not configured: {}", unset.message)),
        }
    }
    context.run = Some(run);
    context.monitor = monitor;
    Ok(context)
}

/// The store's records for the analyzed language (none when the store is unavailable).
async fn stored_templates(state: &AppState, context: &ChatContext) -> Vec<TemplateFact> {
    let Ok(store) = &state.store else {
        return Vec::new();
    };
    let language = context
        .profile
        .as_ref()
        .and_then(|p| p.services.first())
        .map(|s| s.language);
    let Some(language) = language else {
        return Vec::new();
    };
    let query = ListQuery {
        language: Some(language),
        limit: TEMPLATES_IN_CONTEXT,
        ..ListQuery::default()
    };
    match templates::list(store.as_ref(), &query).await {
        Ok(records) => records
            .into_iter()
            .map(|r| TemplateFact {
                id: r.id,
                collection: r.collection.as_str().to_string(),
                stack: [
                    Some(r.stack.language.to_string()),
                    r.stack.framework.map(|f| f.to_string()),
                    r.stack.build_tool.map(|b| b.to_string()),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("/"),
                source: r.source.as_str().to_string(),
                success_count: r.success_count,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "stored templates could not be listed for the chat");
            Vec::new()
        }
    }
}
