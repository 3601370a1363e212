//! The fake's HTTP side: the router under `/api/v4`, the gate every request passes
//! (record, fault, token), and one handler per GitLab route, each answering with GitLab's
//! status codes and message shapes.

use super::lint::lint_errors;
use super::{
    commit_sha, create_pipeline, hex_id, now_iso, param, FakeJob, FakePipeline, FaultKind, Params,
    ProjectState, RecordedAction, RecordedCommit, RecordedRequest, Shared, Snapshot, State,
    FAKE_TOKEN, MAX_BODY,
};
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, Query, Request, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Every route the fake answers, behind [`gate`]; anything else is GitLab's plain 404.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/version", get(get_version))
        .route("/projects/{id}", get(get_project))
        .route("/projects/{id}/repository/tree", get(get_tree))
        .route("/projects/{id}/repository/files/{file_path}", get(get_file))
        .route(
            "/projects/{id}/repository/files/{file_path}/raw",
            get(get_raw_file),
        )
        .route(
            "/projects/{id}/repository/branches",
            get(list_branches).post(create_branch),
        )
        .route(
            "/projects/{id}/repository/branches/{branch}",
            get(get_branch),
        )
        .route("/projects/{id}/repository/commits", post(create_commit))
        .route("/projects/{id}/repository/commits/{sha}", get(get_commit))
        .route("/projects/{id}/pipelines", get(list_pipelines))
        .route("/projects/{id}/pipelines/{pipeline_id}", get(get_pipeline))
        .route(
            "/projects/{id}/pipelines/{pipeline_id}/jobs",
            get(list_jobs),
        )
        .route("/projects/{id}/jobs/{job_id}/trace", get(get_trace))
        .route("/projects/{id}/jobs/{job_id}/retry", post(retry_job))
        .route("/projects/{id}/ci/lint", post(lint))
        .route("/projects/{id}/hooks", get(list_hooks).post(create_hook));
    Router::new()
        .nest("/api/v4", api)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "404 Not Found") })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

type SharedState = AxumState<Arc<Shared>>;

/// Records the request, plays an armed fault, then checks the token (GitLab's rate limiter
/// and proxies answer before authentication does).
async fn gate(AxumState(shared): SharedState, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "413 Request Entity Too Large",
        );
    };
    let header_text = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let authenticated = header_text("private-token").as_deref() == Some(FAKE_TOKEN)
        || header_text("authorization").as_deref() == Some(&format!("Bearer {FAKE_TOKEN}"));
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let fault = {
        let mut state = shared.lock();
        state.requests.push(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            query: parts.uri.query().map(str::to_string),
            headers: ["content-type", "accept", "user-agent"]
                .iter()
                .filter_map(|h| header_text(h).map(|v| (h.to_string(), v)))
                .collect(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
            authenticated,
        });
        let armed = state.faults.iter_mut().find(|f| f.matches(&method, &path));
        armed.map(|f| {
            f.times -= 1;
            f.kind.clone()
        })
    };
    let mut late = None;
    match fault {
        Some(FaultKind::RateLimited {
            retry_after,
            reset_in,
        }) => return rate_limited(retry_after, reset_in),
        Some(FaultKind::Status(code)) => return server_error(code),
        Some(FaultKind::Delay(wait)) => tokio::time::sleep(wait).await,
        Some(FaultKind::DelayAnswer(wait)) => late = Some(wait),
        None => {}
    }
    if !authenticated {
        return message(StatusCode::UNAUTHORIZED, "401 Unauthorized");
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if let Some(wait) = late {
        tokio::time::sleep(wait).await;
    }
    response
}

fn rate_limited(retry_after: Option<String>, reset_in: Option<Duration>) -> Response {
    let mut response = (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(
        "ratelimit-name",
        HeaderValue::from_static("throttle_authenticated_api"),
    );
    headers.insert("ratelimit-limit", HeaderValue::from_static("60"));
    headers.insert("ratelimit-observed", HeaderValue::from_static("61"));
    headers.insert("ratelimit-remaining", HeaderValue::from_static("0"));
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::RETRY_AFTER, value);
    }
    if let Some(reset_in) = reset_in {
        let at = SystemTime::now() + reset_in;
        let unix = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        // Rounded up, as a whole-second Unix time must be to not come early.
        let unix = if at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos()
            > 0
        {
            unix + 1
        } else {
            unix
        };
        if let Ok(v) = HeaderValue::from_str(&unix.to_string()) {
            headers.insert("ratelimit-reset", v);
        }
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
            headers.insert("ratelimit-resettime", v);
        }
    }
    response
}

fn server_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Error");
    if matches!(code, 502..=504) {
        // What the NGINX in front of GitLab answers when Puma is down or slow.
        let html = format!(
            "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        );
        let mut response = (status, html).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        return response;
    }
    message(status, &format!("{code} {reason}"))
}

fn json_response(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// `{"message": …}`, GitLab's shape for most errors.
fn message(status: StatusCode, text: &str) -> Response {
    json_response(status, json!({ "message": text }))
}

/// `{"error": …}`, GitLab's shape for parameter validation errors and unknown routes.
fn error(status: StatusCode, text: &str) -> Response {
    json_response(status, json!({ "error": text }))
}

/// [`error`] for helpers that return `Result` (a `Response` is too large to pass unboxed).
fn boxed_error(status: StatusCode, text: &str) -> Box<Response> {
    Box::new(error(status, text))
}

/// [`message`] for helpers that return `Result`.
fn boxed_message(status: StatusCode, text: &str) -> Box<Response> {
    Box::new(message(status, text))
}

fn project_not_found() -> Response {
    message(StatusCode::NOT_FOUND, "404 Project Not Found")
}

fn project_json(shared: &Shared, project: &ProjectState) -> Value {
    let name = project.path.rsplit('/').next().unwrap_or(&project.path);
    let namespace = project.path.rsplit_once('/').map_or("", |(ns, _)| ns);
    let web_url = format!("{}/{}", shared.base_url, project.path);
    json!({
        "id": project.id,
        "name": name,
        "path": name,
        "path_with_namespace": project.path,
        "name_with_namespace": project.path.replace('/', " / "),
        "namespace": { "full_path": namespace },
        "default_branch": project.default_branch,
        "visibility": "private",
        "empty_repo": project.commits.is_empty(),
        "http_url_to_repo": format!("{web_url}.git"),
        "web_url": web_url,
    })
}

/// `GET /version`: GitLab's version, for authenticated users only.
async fn get_version() -> Response {
    json_response(
        StatusCode::OK,
        json!({ "version": "17.9.0-fake", "revision": "0000000", "enterprise": false }),
    )
}

async fn get_project(AxumState(shared): SharedState, Path(id): Path<String>) -> Response {
    let state = shared.lock();
    match state.project(&id) {
        Some(project) => json_response(StatusCode::OK, project_json(&shared, project)),
        None => project_not_found(),
    }
}

/// A tree entry of the fake: directories are derived from the file paths.
#[derive(Debug, Clone)]
struct TreeItem {
    id: String,
    path: String,
    is_dir: bool,
}

fn tree_items(files: &BTreeMap<String, String>) -> Vec<TreeItem> {
    let mut dirs = BTreeSet::new();
    for path in files.keys() {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            dirs.insert(path[..end].to_string());
            end += 1;
        }
    }
    let mut items: Vec<TreeItem> = dirs
        .into_iter()
        .map(|d| TreeItem {
            id: hex_id(&["tree", &d]),
            path: d,
            is_dir: true,
        })
        .chain(files.iter().map(|(p, content)| TreeItem {
            // Unlike git, unique per path as well as content, so the keyset token is too.
            id: hex_id(&["blob", p, content]),
            path: p.clone(),
            is_dir: false,
        }))
        .collect();
    items.sort_by(|a, b| a.path.cmp(&b.path));
    items
}

fn tree_item_json(item: &TreeItem) -> Value {
    json!({
        "id": item.id,
        "name": item.path.rsplit('/').next().unwrap_or(&item.path),
        "type": if item.is_dir { "tree" } else { "blob" },
        "path": item.path,
        "mode": if item.is_dir { "040000" } else { "100644" },
    })
}

fn per_page(params: &Params) -> usize {
    param(params, "per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100)
}

fn with_params(params: &Params, replace: &str, value: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.iter().filter(|(k, _)| k != replace) {
        query.append_pair(k, v);
    }
    query.append_pair(replace, value);
    query.finish()
}

async fn get_tree(
    AxumState(shared): SharedState,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    let Some((_, snapshot)) = project.snapshot(param(&params, "ref")) else {
        return message(StatusCode::NOT_FOUND, "404 Tree Not Found");
    };
    let recursive = param(&params, "recursive") == Some("true");
    let dir = param(&params, "path")
        .unwrap_or("")
        .trim_matches('/')
        .to_string();
    let items = tree_items(&snapshot.files);
    if !dir.is_empty() && !items.iter().any(|i| i.is_dir && i.path == dir) {
        // Since GitLab 17.7 a missing path is a 404, not an empty list.
        return message(StatusCode::NOT_FOUND, "404 Tree Not Found");
    }
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let listed: Vec<TreeItem> = items
        .into_iter()
        .filter(|i| i.path.starts_with(&prefix))
        .filter(|i| recursive || !i.path[prefix.len()..].contains('/'))
        .collect();
    let size = per_page(&params);
    if param(&params, "pagination") == Some("keyset") {
        let start = match param(&params, "page_token") {
            None => 0,
            Some(token) => match listed.iter().position(|i| i.id == token) {
                Some(i) => i + 1,
                None => return error(StatusCode::BAD_REQUEST, "page_token is invalid"),
            },
        };
        let page: Vec<&TreeItem> = listed.iter().skip(start).take(size).collect();
        let mut response = json_response(
            StatusCode::OK,
            Value::Array(page.iter().map(|i| tree_item_json(i)).collect()),
        );
        if start + page.len() < listed.len() {
            if let Some(last) = page.last() {
                let next = format!(
                    "{}{}?{}",
                    shared.base_url,
                    uri.path(),
                    with_params(&params, "page_token", &last.id)
                );
                if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
                    response.headers_mut().insert(header::LINK, v);
                }
            }
        }
        return response;
    }
    let values: Vec<Value> = listed.iter().map(tree_item_json).collect();
    offset_page(&shared.base_url, &uri, &params, values)
}

/// One page of `items` with GitLab's offset headers (`x-page`, `x-next-page`, `Link` …).
fn offset_page(base_url: &str, uri: &Uri, params: &Params, items: Vec<Value>) -> Response {
    let size = per_page(params);
    let page = param(params, "page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let total_pages = total.div_ceil(size).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    let mut response = json_response(StatusCode::OK, Value::Array(slice));
    let link = |p: usize, rel: &str| {
        format!(
            "<{base_url}{}?{}>; rel=\"{rel}\"",
            uri.path(),
            with_params(params, "page", &p.to_string())
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if page < total_pages {
        links.push(link(page + 1, "next"));
    }
    links.push(link(1, "first"));
    links.push(link(total_pages, "last"));
    let next = if page < total_pages {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-page", page.to_string()),
        ("x-per-page", size.to_string()),
        ("x-total", total.to_string()),
        ("x-total-pages", total_pages.to_string()),
        ("x-next-page", next),
        ("x-prev-page", prev),
        ("link", links.join(", ")),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    response
}

fn file_headers(headers: &mut HeaderMap, path: &str, content: &str, reference: &str, sha: &str) {
    let name = path.rsplit('/').next().unwrap_or(path);
    for (key, value) in [
        ("x-gitlab-file-name", name.to_string()),
        ("x-gitlab-file-path", path.to_string()),
        ("x-gitlab-size", content.len().to_string()),
        ("x-gitlab-encoding", "base64".to_string()),
        ("x-gitlab-ref", reference.to_string()),
        ("x-gitlab-blob-id", hex_id(&["blob", path, content])),
        ("x-gitlab-commit-id", sha.to_string()),
        ("x-gitlab-last-commit-id", sha.to_string()),
        ("x-gitlab-execute-filemode", "false".to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(key, v);
        }
    }
}

async fn get_file(
    AxumState(shared): SharedState,
    Path((id, file_path)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    let Some(reference) = param(&params, "ref") else {
        return error(StatusCode::BAD_REQUEST, "ref is missing");
    };
    let found = project
        .snapshot(Some(reference))
        .and_then(|(sha, s)| s.files.get(&file_path).map(|c| (sha, c)));
    let Some((sha, content)) = found else {
        return message(StatusCode::NOT_FOUND, "404 File Not Found");
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(content.as_bytes());
    let name = file_path.rsplit('/').next().unwrap_or(&file_path);
    let mut response = json_response(
        StatusCode::OK,
        json!({
            "file_name": name,
            "file_path": file_path,
            "size": content.len(),
            "encoding": "base64",
            "content": encoded,
            "ref": reference,
            "blob_id": hex_id(&["blob", &file_path, content]),
            "commit_id": sha,
            "last_commit_id": sha,
            "execute_filemode": false,
        }),
    );
    file_headers(response.headers_mut(), &file_path, content, reference, &sha);
    response
}

async fn get_raw_file(
    AxumState(shared): SharedState,
    Path((id, file_path)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    let reference = param(&params, "ref").unwrap_or("HEAD");
    let found = project
        .snapshot(Some(reference))
        .and_then(|(sha, s)| s.files.get(&file_path).map(|c| (sha, c.clone())));
    let Some((sha, content)) = found else {
        return message(StatusCode::NOT_FOUND, "404 File Not Found");
    };
    let mut response = (StatusCode::OK, content.clone()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    file_headers(
        response.headers_mut(),
        &file_path,
        &content,
        reference,
        &sha,
    );
    response
}

fn branch_json(shared: &Shared, project: &ProjectState, name: &str, sha: &str) -> Value {
    let snapshot = project.commits.get(sha);
    let title = snapshot
        .map(|s| s.message.lines().next().unwrap_or("").to_string())
        .unwrap_or_default();
    json!({
        "name": name,
        "commit": {
            "id": sha,
            "short_id": &sha[..8.min(sha.len())],
            "title": title,
            "message": snapshot.map(|s| s.message.clone()).unwrap_or_default(),
            "created_at": snapshot.map(|s| s.created_at.clone()).unwrap_or_default(),
            "parent_ids": snapshot.and_then(|s| s.parent.clone()).into_iter().collect::<Vec<_>>(),
        },
        "merged": false,
        "protected": project.default_branch.as_deref() == Some(name),
        "default": project.default_branch.as_deref() == Some(name),
        "developers_can_push": false,
        "developers_can_merge": false,
        "can_push": true,
        "web_url": format!("{}/{}/-/tree/{name}", shared.base_url, project.path),
    })
}

async fn list_branches(
    AxumState(shared): SharedState,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    let items = project
        .branches
        .iter()
        .map(|(name, sha)| branch_json(&shared, project, name, sha))
        .collect();
    offset_page(&shared.base_url, &uri, &params, items)
}

async fn get_branch(
    AxumState(shared): SharedState,
    Path((id, branch)): Path<(String, String)>,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    match project.branches.get(&branch) {
        Some(sha) => json_response(StatusCode::OK, branch_json(&shared, project, &branch, sha)),
        None => message(StatusCode::NOT_FOUND, "404 Branch Not Found"),
    }
}

async fn create_branch(
    AxumState(shared): SharedState,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let mut state = shared.lock();
    let Some(project) = state.project_mut(&id) else {
        return project_not_found();
    };
    let missing: Vec<&str> = ["branch", "ref"]
        .into_iter()
        .filter(|k| param(&params, k).is_none_or(str::is_empty))
        .collect();
    if !missing.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            &missing
                .iter()
                .map(|k| format!("{k} is missing"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let branch = param(&params, "branch").unwrap_or_default().to_string();
    let reference = param(&params, "ref").unwrap_or_default();
    if project.branches.contains_key(&branch) {
        return message(StatusCode::BAD_REQUEST, "Branch already exists");
    }
    let Some(sha) = project.resolve(Some(reference)) else {
        return message(
            StatusCode::BAD_REQUEST,
            &format!("Invalid reference name: {reference}"),
        );
    };
    project.branches.insert(branch.clone(), sha.clone());
    let project = &*project;
    json_response(
        StatusCode::CREATED,
        branch_json(&shared, project, &branch, &sha),
    )
}

/// A commit action as read from the request body.
struct Action {
    action: String,
    file_path: String,
    previous_path: Option<String>,
    content: Option<String>,
}

fn read_actions(body: &Value) -> Result<Vec<Action>, Box<Response>> {
    let Some(list) = body.get("actions").and_then(Value::as_array) else {
        return Err(boxed_error(StatusCode::BAD_REQUEST, "actions is missing"));
    };
    if list.is_empty() {
        return Err(boxed_error(StatusCode::BAD_REQUEST, "actions is empty"));
    }
    let mut actions = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
        let Some(action) = text("action") else {
            return Err(boxed_error(
                StatusCode::BAD_REQUEST,
                &format!("actions[{i}][action] is missing"),
            ));
        };
        if !matches!(
            action.as_str(),
            "create" | "update" | "delete" | "move" | "chmod"
        ) {
            return Err(boxed_error(
                StatusCode::BAD_REQUEST,
                &format!("actions[{i}][action] does not have a valid value"),
            ));
        }
        let Some(file_path) = text("file_path").filter(|p| !p.is_empty()) else {
            return Err(boxed_error(
                StatusCode::BAD_REQUEST,
                &format!("actions[{i}][file_path] is missing"),
            ));
        };
        let content = match (text("content"), text("encoding").as_deref()) {
            (Some(c), Some("base64")) => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(c.as_bytes())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                match decoded {
                    Some(d) => Some(d),
                    None => {
                        return Err(boxed_message(
                            StatusCode::BAD_REQUEST,
                            "Encoding base64 requires valid base64 content",
                        ))
                    }
                }
            }
            (c, None | Some("text")) => c,
            (_, Some(other)) => {
                return Err(boxed_error(
                    StatusCode::BAD_REQUEST,
                    &format!("actions[{i}][encoding] does not have a valid value ({other})"),
                ))
            }
        };
        if matches!(action.as_str(), "create" | "update") && content.is_none() {
            return Err(boxed_error(
                StatusCode::BAD_REQUEST,
                &format!("actions[{i}][content] is missing"),
            ));
        }
        actions.push(Action {
            action,
            file_path,
            previous_path: text("previous_path"),
            content,
        });
    }
    Ok(actions)
}

fn traverses(path: &str) -> bool {
    path.starts_with('/') || path.split('/').any(|c| c == ".." || c.is_empty())
}

/// Applies the actions to a copy of the files, all or nothing, with GitLab's messages.
fn apply_actions(
    files: &BTreeMap<String, String>,
    actions: &[Action],
) -> Result<BTreeMap<String, String>, Box<Response>> {
    let bad = |text: &str| Err(boxed_message(StatusCode::BAD_REQUEST, text));
    let mut next = files.clone();
    for a in actions {
        if traverses(&a.file_path) || a.previous_path.as_deref().is_some_and(traverses) {
            return bad("Path cannot include directory traversal");
        }
        let exists = next.contains_key(&a.file_path);
        match a.action.as_str() {
            "create" if exists => return bad("A file with this name already exists"),
            "update" | "delete" | "chmod" if !exists => {
                return bad("A file with this name doesn't exist")
            }
            "create" | "update" => {
                next.insert(a.file_path.clone(), a.content.clone().unwrap_or_default());
            }
            "delete" => {
                next.remove(&a.file_path);
            }
            "move" => {
                let Some(previous) = a.previous_path.as_deref() else {
                    return bad("You must provide previous_path to move a file");
                };
                if exists {
                    return bad("A file with this name already exists");
                }
                let Some(old) = next.remove(previous) else {
                    return bad("A file with this name doesn't exist");
                };
                next.insert(a.file_path.clone(), a.content.clone().unwrap_or(old));
            }
            // chmod changes only the mode, which the fake does not keep.
            _ => {}
        }
    }
    Ok(next)
}

async fn create_commit(
    AxumState(shared): SharedState,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the request body is not valid JSON",
        );
    };
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
    let missing: Vec<String> = ["branch", "commit_message", "actions"]
        .into_iter()
        .filter(|k| body.get(*k).is_none())
        .map(|k| format!("{k} is missing"))
        .collect();
    if !missing.is_empty() {
        return error(StatusCode::BAD_REQUEST, &missing.join(", "));
    }
    let branch = text("branch").unwrap_or_default();
    let commit_message = text("commit_message").unwrap_or_default();
    let start_branch = text("start_branch").filter(|s| !s.is_empty());
    let actions = match read_actions(&body) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let mut state = shared.lock();
    let Some(project) = state.project_mut(&id) else {
        return project_not_found();
    };
    let target_exists = project.branches.contains_key(&branch);
    let base_ref = match (&start_branch, target_exists) {
        (Some(start), true) if *start != branch => {
            return message(
                StatusCode::BAD_REQUEST,
                &format!("A branch called '{branch}' already exists. Switch to that branch in order to make changes"),
            )
        }
        (_, true) => branch.clone(),
        (Some(start), false) => start.clone(),
        (None, false) => {
            return message(
                StatusCode::BAD_REQUEST,
                "You can only create or edit files when you are on a branch",
            )
        }
    };
    // The exact wording GitLab uses for an unknown start branch was not verified.
    let Some(parent) = project.branches.get(&base_ref).cloned() else {
        return message(
            StatusCode::BAD_REQUEST,
            &format!("Failed to create branch '{branch}': invalid reference name '{base_ref}'"),
        );
    };
    let base_files = project
        .commits
        .get(&parent)
        .map(|s| s.files.clone())
        .unwrap_or_default();
    let files = match apply_actions(&base_files, &actions) {
        Ok(f) => f,
        Err(response) => return *response,
    };
    let (additions, deletions) = line_stats(&base_files, &files);
    let snapshot = Snapshot {
        parent: Some(parent.clone()),
        message: commit_message.clone(),
        files,
        created_at: now_iso(),
    };
    let sha = commit_sha(&snapshot);
    let ci_text = snapshot.files.get(".gitlab-ci.yml").cloned();
    let created_at = snapshot.created_at.clone();
    project.commits.insert(sha.clone(), snapshot);
    project.branches.insert(branch.clone(), sha.clone());
    let project_id = project.id;
    let web_url = format!("{}/{}/-/commit/{sha}", shared.base_url, project.path);
    state.commits.push(RecordedCommit {
        project_id,
        sha: sha.clone(),
        branch: branch.clone(),
        start_branch,
        message: commit_message.clone(),
        actions: actions
            .iter()
            .map(|a| RecordedAction {
                action: a.action.clone(),
                file_path: a.file_path.clone(),
                content: a.content.clone(),
            })
            .collect(),
    });
    // A push with a CI configuration starts a pipeline; without one, GitLab starts none.
    if let Some(ci) = ci_text {
        let pipeline_id = create_pipeline(&mut state, project_id, &sha, &branch, "created");
        let mut next_job_id = state.next_job_id;
        let jobs = super::pipelines::jobs_for(&ci, &mut next_job_id);
        state.next_job_id = next_job_id;
        if let Some(p) = state.pipelines.iter_mut().find(|p| p.id == pipeline_id) {
            p.jobs = jobs;
        }
        if let Some(step) = state.scripts.get(&project_id).and_then(|s| s.step) {
            shared.drive(pipeline_id, step);
        }
    }
    let title = commit_message.lines().next().unwrap_or("").to_string();
    json_response(
        StatusCode::CREATED,
        json!({
            "id": sha,
            "short_id": &sha[..8],
            "title": title,
            "message": commit_message,
            "parent_ids": [parent],
            "author_name": "pipewright",
            "author_email": "pipewright@example.com",
            "authored_date": created_at,
            "committer_name": "pipewright",
            "committer_email": "pipewright@example.com",
            "committed_date": created_at,
            "created_at": created_at,
            "stats": { "additions": additions, "deletions": deletions, "total": additions + deletions },
            "status": null,
            "project_id": project_id,
            "web_url": web_url,
        }),
    )
}

fn line_stats(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> (usize, usize) {
    let mut additions = 0;
    let mut deletions = 0;
    for (path, content) in after {
        if before.get(path) != Some(content) {
            additions += content.lines().count();
            deletions += before.get(path).map_or(0, |c| c.lines().count());
        }
    }
    for (path, content) in before {
        if !after.contains_key(path) {
            deletions += content.lines().count();
        }
    }
    (additions, deletions)
}

async fn get_commit(
    AxumState(shared): SharedState,
    Path((id, sha)): Path<(String, String)>,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    let Some((sha, snapshot)) = project.snapshot(Some(&sha)) else {
        return message(StatusCode::NOT_FOUND, "404 Commit Not Found");
    };
    let last_pipeline = state
        .pipelines
        .iter()
        .rev()
        .find(|p| p.project_id == project.id && p.sha == sha)
        .map(|p| json!({ "id": p.id, "ref": p.git_ref, "sha": p.sha, "status": p.status }));
    json_response(
        StatusCode::OK,
        json!({
            "id": sha,
            "short_id": &sha[..8],
            "title": snapshot.message.lines().next().unwrap_or(""),
            "message": snapshot.message,
            "parent_ids": snapshot.parent.iter().collect::<Vec<_>>(),
            "created_at": snapshot.created_at,
            "last_pipeline": last_pipeline,
            "web_url": format!("{}/{}/-/commit/{sha}", shared.base_url, project.path),
        }),
    )
}

fn pipeline_json(shared: &Shared, project_path: &str, p: &FakePipeline, detail: bool) -> Value {
    let mut value = json!({
        "id": p.id,
        "iid": p.iid,
        "project_id": p.project_id,
        "sha": p.sha,
        "ref": p.git_ref,
        "status": p.status,
        "source": p.source,
        "created_at": p.created_at,
        "updated_at": p.created_at,
        "web_url": format!("{}/{project_path}/-/pipelines/{}", shared.base_url, p.id),
    });
    if detail {
        if let Value::Object(map) = &mut value {
            map.insert(
                "before_sha".into(),
                json!("0000000000000000000000000000000000000000"),
            );
            map.insert("tag".into(), json!(false));
            map.insert("yaml_errors".into(), Value::Null);
            map.insert(
                "detailed_status".into(),
                json!({ "icon": format!("status_{}", p.status), "text": p.status, "label": p.status, "group": p.status }),
            );
        }
    }
    value
}

async fn list_pipelines(
    AxumState(shared): SharedState,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    let items: Vec<Value> = state
        .pipelines
        .iter()
        .rev()
        .filter(|p| p.project_id == project.id)
        .filter(|p| param(&params, "sha").is_none_or(|s| s == p.sha))
        .filter(|p| param(&params, "ref").is_none_or(|r| r == p.git_ref))
        .filter(|p| param(&params, "status").is_none_or(|s| s == p.status))
        .map(|p| pipeline_json(&shared, &project.path, p, false))
        .collect();
    offset_page(&shared.base_url, &uri, &params, items)
}

fn find_pipeline<'a>(
    state: &'a State,
    project: &ProjectState,
    pipeline_id: &str,
) -> Option<&'a FakePipeline> {
    let pipeline_id = pipeline_id.parse::<u64>().ok()?;
    state
        .pipelines
        .iter()
        .find(|p| p.id == pipeline_id && p.project_id == project.id)
}

async fn get_pipeline(
    AxumState(shared): SharedState,
    Path((id, pipeline_id)): Path<(String, String)>,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    match find_pipeline(&state, project, &pipeline_id) {
        Some(p) => json_response(
            StatusCode::OK,
            pipeline_json(&shared, &project.path, p, true),
        ),
        None => message(StatusCode::NOT_FOUND, "404 Not found"),
    }
}

async fn list_jobs(
    AxumState(shared): SharedState,
    Path((id, pipeline_id)): Path<(String, String)>,
    Query(params): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    let Some(pipeline) = find_pipeline(&state, project, &pipeline_id) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    let include_retried = param(&params, "include_retried") == Some("true");
    let scopes: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "scope[]" || k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut jobs: Vec<&FakeJob> = pipeline
        .jobs
        .iter()
        .filter(|j| include_retried || !j.retried)
        .filter(|j| scopes.is_empty() || scopes.contains(&j.status.as_str()))
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
    let items = jobs
        .into_iter()
        .map(|j| {
            json!({
                "id": j.id,
                "name": j.name,
                "stage": j.stage,
                "status": j.status,
                "failure_reason": if j.status == "failed" { j.failure_reason.clone() } else { None },
                "allow_failure": j.allow_failure,
                "ref": pipeline.git_ref,
                "tag": false,
                "created_at": pipeline.created_at,
                "started_at": pipeline.created_at,
                "finished_at": null,
                "duration": null,
                "web_url": format!("{}/{}/-/jobs/{}", shared.base_url, project.path, j.id),
                "pipeline": { "id": pipeline.id, "project_id": pipeline.project_id, "ref": pipeline.git_ref, "sha": pipeline.sha, "status": pipeline.status },
            })
        })
        .collect();
    offset_page(&shared.base_url, &uri, &params, items)
}

/// `POST /projects/:id/jobs/:job_id/retry`: 201 with the new job; 403 when the job is not
/// retryable (still running, or already retried); 404 for an unknown job.
async fn retry_job(
    AxumState(shared): SharedState,
    Path((id, job_id)): Path<(String, String)>,
) -> Response {
    let (answer, queued, step) = {
        let mut state = shared.lock();
        let Some(project) = state.project(&id) else {
            return project_not_found();
        };
        let (project_id, project_path) = (project.id, project.path.clone());
        let job_id = job_id.parse::<u64>().unwrap_or(0);
        let (job, pipeline_id) = match super::pipelines::retry(&mut state, project_id, job_id) {
            Ok(done) => done,
            Err(super::pipelines::RetryRefused::NoSuchJob) => {
                return message(StatusCode::NOT_FOUND, "404 Job Not Found")
            }
            Err(super::pipelines::RetryRefused::NotRetryable) => {
                return message(
                    StatusCode::FORBIDDEN,
                    "403 Forbidden - Job is not retryable",
                )
            }
        };
        let queued = super::pipelines::queue_deliveries(&shared, &mut state, pipeline_id);
        let step = state.scripts.get(&project_id).and_then(|s| s.step);
        let Some(p) = state.pipelines.iter().find(|p| p.id == pipeline_id) else {
            return message(StatusCode::NOT_FOUND, "404 Not found");
        };
        let answer = json!({
            "id": job.id,
            "name": job.name,
            "stage": job.stage,
            "status": job.status,
            "failure_reason": null,
            "allow_failure": job.allow_failure,
            "ref": p.git_ref,
            "tag": false,
            "created_at": now_iso(),
            "started_at": null,
            "finished_at": null,
            "duration": null,
            "web_url": format!("{}/{project_path}/-/jobs/{}", shared.base_url, job.id),
            "pipeline": { "id": p.id, "project_id": p.project_id, "ref": p.git_ref, "sha": p.sha, "status": p.status },
        });
        (answer, (queued, pipeline_id), step)
    };
    let (queued, pipeline_id) = queued;
    tokio::spawn(super::pipelines::send(shared.clone(), queued));
    if let Some(step) = step {
        shared.drive(pipeline_id, step);
    }
    json_response(StatusCode::CREATED, answer)
}

async fn get_trace(
    AxumState(shared): SharedState,
    Path((id, job_id)): Path<(String, String)>,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    let job_id = job_id.parse::<u64>().unwrap_or(0);
    let job = state
        .pipelines
        .iter()
        .filter(|p| p.project_id == project.id)
        .flat_map(|p| &p.jobs)
        .find(|j| j.id == job_id);
    match job {
        None => message(StatusCode::NOT_FOUND, "404 Job Not Found"),
        Some(FakeJob { trace: None, .. }) => message(StatusCode::NOT_FOUND, "404 Not Found"),
        Some(FakeJob {
            trace: Some(text), ..
        }) => {
            let mut response = (StatusCode::OK, text.clone()).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            response
        }
    }
}

fn hook_json(hook: &super::FakeHook) -> Value {
    // GitLab never returns the token.
    json!({
        "id": hook.id,
        "url": hook.url,
        "project_id": hook.project_id,
        "push_events": hook.push_events,
        "pipeline_events": hook.pipeline_events,
        "job_events": false,
        "merge_requests_events": false,
        "enable_ssl_verification": true,
        "created_at": now_iso(),
    })
}

async fn list_hooks(
    AxumState(shared): SharedState,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let state = shared.lock();
    let Some(project) = state.project(&id) else {
        return project_not_found();
    };
    let items = state
        .hooks
        .iter()
        .filter(|h| h.project_id == project.id)
        .map(hook_json)
        .collect();
    offset_page(&shared.base_url, &uri, &params, items)
}

async fn create_hook(
    AxumState(shared): SharedState,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the request body is not valid JSON",
        );
    };
    let Some(url) = body
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
    else {
        return error(StatusCode::BAD_REQUEST, "url is missing");
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "Invalid url given");
    }
    let flag = |key: &str, default: bool| body.get(key).and_then(Value::as_bool).unwrap_or(default);
    let mut state = shared.lock();
    let Some(project_id) = state.project(&id).map(|p| p.id) else {
        return project_not_found();
    };
    let hook_id = super::add_hook(
        &mut state,
        project_id,
        url,
        body.get("token").and_then(Value::as_str),
        flag("pipeline_events", false),
        flag("push_events", true),
    );
    match state.hooks.iter().find(|h| h.id == hook_id) {
        Some(hook) => json_response(StatusCode::CREATED, hook_json(hook)),
        None => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500 Internal Server Error",
        ),
    }
}

/// CI Lint: always 200, with `valid` and GitLab's error messages.
async fn lint(AxumState(shared): SharedState, Path(id): Path<String>, body: Bytes) -> Response {
    let rules = {
        let state = shared.lock();
        if state.project(&id).is_none() {
            return project_not_found();
        }
        state.lint_rules.clone()
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the request body is not valid JSON",
        );
    };
    let Some(content) = body.get("content").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "content is missing");
    };
    let mut errors = lint_errors(content);
    errors.extend(
        rules
            .into_iter()
            .filter(|(needle, _)| content.contains(needle.as_str()))
            .map(|(_, error)| error),
    );
    let valid = errors.is_empty();
    json_response(
        StatusCode::OK,
        json!({
            "valid": valid,
            "errors": errors,
            "warnings": [],
            "merged_yaml": if valid { Some(content) } else { None },
            "includes": [],
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_items_derive_folders_and_sort_by_path() {
        let files: BTreeMap<String, String> = [("a/b/c.txt", "1"), ("a/d.txt", "2"), ("e", "3")]
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        let paths: Vec<(String, bool)> = tree_items(&files)
            .into_iter()
            .map(|i| (i.path, i.is_dir))
            .collect();
        assert_eq!(
            paths,
            [
                ("a", true),
                ("a/b", true),
                ("a/b/c.txt", false),
                ("a/d.txt", false),
                ("e", false)
            ]
            .map(|(p, d)| (p.to_string(), d))
        );
    }

    #[test]
    fn actions_apply_all_or_nothing() {
        let files: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        let create = |p: &str| Action {
            action: "create".into(),
            file_path: p.into(),
            previous_path: None,
            content: Some("x".into()),
        };
        assert!(apply_actions(&files, &[create("b"), create("a")]).is_err());
        let next = apply_actions(&files, &[create("b")]).unwrap();
        assert_eq!(next.len(), 2);
        assert!(apply_actions(&files, &[create("../etc/passwd")]).is_err());
    }
}
