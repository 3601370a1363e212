// pipewright's page: plain DOM, no framework, no inline HTML from data (every value from the
// server goes in as text). Calls the /api/v1 routes with the token the user typed, when the
// server wants one; Server-Sent Events are read with fetch so the bearer header is sent.
"use strict";

const TOKEN_KEY = "pipewright-token";
const FINAL = ["succeeded", "failed", "timed_out", "canceled", "exhausted", "needs_code_fix"];
const OUTCOME_WORDS = {
  waiting: "Waiting for GitLab to start the pipeline…",
  running: "The pipeline is running…",
  healing: "A job failed; self-heal is trying a fix…",
  succeeded: "Succeeded: every job passed.",
  failed: "Failed: the pipeline did not pass the quality gate.",
  timed_out: "Timed out: no final pipeline in time.",
  canceled: "Canceled in GitLab.",
  exhausted: "Exhausted: self-heal used up its attempts without a green pipeline.",
  needs_code_fix: "Needs a code fix: the failure is in the project's own code or tests.",
};

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem(TOKEN_KEY) || "", runId: null, watching: null, history: [] };

class Unauthorized extends Error {}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// Only http(s) links: a URL from a server never becomes a `javascript:` link.
function safeHref(url) {
  return /^https?:\/\//i.test(url || "") ? url : null;
}

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}

function errorText(body, status) {
  if (body && body.error) {
    const e = body.error;
    return e.message + (e.field ? ` (field: ${e.field})` : "");
  }
  return `the server answered ${status}`;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.status === 401) {
    askForToken(errorText(data, 401));
    throw new Unauthorized(errorText(data, 401));
  }
  if (!response.ok) throw new Error(errorText(data, response.status));
  return data;
}

// Reads a text/event-stream answer; calls onEvent(name, data) per event. Resolves at its end.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, data.join("\n"));
    }
  }
}

async function stream(method, path, body, onEvent) {
  const response = await fetch(path, {
    method,
    headers: Object.assign(headers(body !== undefined), { Accept: "text/event-stream" }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    askForToken("the API token is not accepted");
    throw new Unauthorized("unauthorized");
  }
  if (!response.ok) {
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    const error = new Error(errorText(data, response.status));
    error.status = response.status;
    throw error;
  }
  await readEvents(response, onEvent);
}

// ---- token ----

function askForToken(message) {
  $("main").hidden = true;
  $("health").replaceChildren();
  $("token-panel").hidden = false;
  $("token-error").textContent = state.token ? message : "";
  $("token").focus();
}

async function start() {
  try {
    await api("GET", "/api/v1/pipeline/runs?limit=1");
  } catch (e) {
    if (e instanceof Unauthorized) return;
    // Any other answer (no run store) still means the token was accepted.
  }
  $("token-panel").hidden = true;
  $("main").hidden = false;
  loadHealth();
  loadRuns();
  loadTemplates();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $("token").value = "";
  start();
});

// ---- side panels ----

async function loadHealth() {
  try {
    const response = await fetch("/health");
    const health = await response.json();
    const items = [["GitLab", "gitlab"], ["LLM", "llm"], ["Store", "store"]].map(([label, key]) => {
      const dep = (health.dependencies || {})[key] || {};
      const words = { ok: "ok", unavailable: "unavailable", not_configured: "not configured" }[dep.state] || "unknown";
      return el("li", { class: dep.state || "", title: dep.reason || dep.detail || "" }, `${label}: ${words}`);
    });
    $("health").replaceChildren(...items);
  } catch (e) {
    $("health").replaceChildren(el("li", { class: "unavailable" }, "health unknown"));
  }
}

async function loadRuns() {
  const list = $("runs");
  try {
    const data = await api("GET", "/api/v1/pipeline/runs?limit=10");
    if (!data.runs.length) return list.replaceChildren(el("li", {}, "No runs yet."));
    list.replaceChildren(...data.runs.map((run) => el("li", {},
      el("span", {}, `${run.project || "?"} · ${run.status} · ${run.created_at || ""} `),
      el("button", { type: "button", "aria-label": `Watch run ${run.id}`, onclick: () => watch(run.id) }, "Watch"),
    )));
  } catch (e) {
    if (!(e instanceof Unauthorized)) list.replaceChildren(el("li", {}, `Runs unavailable: ${e.message}`));
  }
}

async function loadTemplates() {
  const list = $("templates");
  try {
    const data = await api("GET", "/api/v1/templates?limit=20");
    if (!data.templates.length) return list.replaceChildren(el("li", {}, "No stored templates."));
    list.replaceChildren(...data.templates.map((t) => el("li", {},
      el("code", {}, t.id), ` ${[t.language, t.framework, t.build_tool].filter(Boolean).join("/")} · ${t.source} · green ${t.success_count}×`)));
  } catch (e) {
    if (!(e instanceof Unauthorized)) list.replaceChildren(el("li", {}, `Templates unavailable: ${e.message}`));
  }
}

// ---- form ----

function options() {
  const skip = $("skip-stages").value.split(",").map((s) => s.trim()).filter(Boolean);
  const settings = {};
  if (skip.length) settings.skip_stages = skip;
  const image = $("image-name").value.trim();
  if (image) settings.image_name = image;
  return { use_template_only: $("template-only").checked, settings };
}

function repository() {
  const value = $("repository").value.trim();
  if (!value) throw new Error("Enter a repository: a GitLab project URL or group/project.");
  return value;
}

function busy(text) {
  $("form-error").textContent = "";
  $("form-status").textContent = text;
  for (const b of [$("preview-button"), $("commit-button")]) b.disabled = !!text;
}

$("repo-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  let repo;
  try { repo = repository(); } catch (e) { $("form-error").textContent = e.message; return; }
  busy("Analyzing and generating…");
  try {
    const data = await api("POST", "/api/v1/pipeline/generate", Object.assign({ repository_url: repo }, options()));
    state.runId = null;
    renderPreview(data);
    busy("");
  } catch (e) {
    busy("");
    if (!(e instanceof Unauthorized)) $("form-error").textContent = `Preview failed: ${e.message}`;
  }
});

$("commit-button").addEventListener("click", async () => {
  let repo;
  try { repo = repository(); } catch (e) { $("form-error").textContent = e.message; return; }
  const body = options();
  if (repo.includes("://")) body.repository_url = repo; else body.project_id = repo;
  const branch = $("branch").value.trim();
  if (branch) body.branch = branch;
  busy("Committing…");
  try {
    const outcome = await api("POST", "/api/v1/pipeline/workflow", body);
    busy("");
    renderCommit(outcome);
    $("run").scrollIntoView({ block: "start" });
    loadRuns();
    watch(outcome.run_id);
  } catch (e) {
    busy("");
    if (!(e instanceof Unauthorized)) $("form-error").textContent = `Commit failed: ${e.message}`;
  }
});

// ---- preview ----

function highlighted(text, diff) {
  const pre = el("pre", { tabindex: "0" });
  const code = el("code");
  for (const line of text.split("\n")) {
    if (diff && (line.startsWith("+") && !line.startsWith("+++"))) code.append(el("span", { class: "add" }, line));
    else if (diff && (line.startsWith("-") && !line.startsWith("---"))) code.append(el("span", { class: "del" }, line));
    else if (/^\s*#/.test(line)) code.append(el("span", { class: "c" }, line));
    else {
      const m = line.match(/^(\s*-?\s*)([A-Za-z0-9_.:-]+:)(\s|$)(.*)$/) || line.match(/^()([A-Z]+)(\s)(.*)$/);
      if (m && !diff) code.append(m[1], el("span", { class: "k" }, m[2]), m[3] + m[4]);
      else code.append(line);
    }
    code.append("\n");
  }
  pre.append(code);
  return pre;
}

function renderPreview(data) {
  $("preview").hidden = false;
  $("run").hidden = true;
  $("path-taken").textContent = `Path taken: ${data.commit_tag}` + (data.path && data.path.retrieval ? ` (${data.path.retrieval})` : "");
  const services = (data.profile && data.profile.services) || [];
  $("stack").replaceChildren(...services.map((s) => {
    const rows = [
      ["Language", s.language], ["Framework", s.framework], ["Build tool", s.build_tool],
      ["Test framework", s.test_framework],
      ["Runtime", s.runtime_version && `${s.runtime_version.name} ${s.runtime_version.value} (${s.runtime_version.source})`],
      ["Port", s.port], ["Databases", (s.databases || []).join(", ")],
    ].filter(([, v]) => v !== null && v !== undefined && v !== "");
    return el("div", { class: "service" },
      el("h4", {}, s.path === "." ? "Service at the root" : `Service ${s.path}`),
      el("table", {}, el("tbody", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, String(v)))))),
      el("details", {}, el("summary", {}, `Evidence (${(s.evidence || []).length})`),
        el("ul", {}, ...(s.evidence || []).map((e) => el("li", {}, el("strong", {}, e.conclusion), ": ", e.detail, " — ", el("code", {}, e.file))))));
  }));
  const findings = data.findings || [];
  $("findings").replaceChildren(...(findings.length ? findings.map((f) => el("li", {},
    el("span", { class: `sev-${f.severity}` }, f.severity), ` ${f.file}:${f.line} [${f.rule}] ${f.message}`)) : [el("li", {}, "No findings: every file passed the validator.")]));
  const existing = data.existing || {};
  $("files").replaceChildren(...Object.entries(data.files || {}).map(([path, text]) => {
    const parts = [el("summary", {}, path), highlighted(text, false)];
    const old = existing[path];
    if (old) {
      parts.push(el("h4", {}, `Diff against the repository's ${path}`));
      parts.push(old.diff ? highlighted(old.diff, true) : el("p", {}, "Same as the repository's file."));
    }
    // The pipeline and the Dockerfiles open; the rest one click away.
    return el("details", { open: path === ".dockerignore" || path.endsWith("/.dockerignore") ? null : "" }, ...parts);
  }));
}

// ---- run ----

function renderCommit(o) {
  $("run").hidden = false;
  const facts = [
    ["Run", o.run_id], ["Project", o.project_path], ["Branch", o.branch],
    ["Commit", o.commit_id], ["Path taken", o.commit_tag],
  ];
  const items = [];
  for (const [k, v] of facts) items.push(el("dt", {}, k), el("dd", {}, v || ""));
  if (o.web_url) items.push(el("dt", {}, "GitLab"), el("dd", {}, el("a", { href: safeHref(o.web_url), rel: "noopener" }, o.web_url)));
  $("run-facts").replaceChildren(...items);
  $("run-outcome").textContent = "Committed; waiting for the pipeline…";
  $("run-outcome").className = "outcome";
  $("attempts").replaceChildren();
}

function renderMonitor(m) {
  const words = OUTCOME_WORDS[m.status] || m.status;
  $("run-outcome").textContent = words + (m.heal_note ? ` ${m.heal_note}` : "") +
    (m.learned_template_id ? ` Learned as ${m.learned_template_id}.` : "");
  $("run-outcome").className = `outcome ${m.status}`;
  $("attempts").replaceChildren(...(m.attempts || []).map((a) => {
    const li = el("li", {},
      el("strong", {}, `Attempt ${a.attempt}`), ": pipeline ",
      a.pipeline_url ? el("a", { href: safeHref(a.pipeline_url), rel: "noopener" }, `#${a.pipeline_id}`) : (a.pipeline_id ? `#${a.pipeline_id}` : "not started"),
      ` ${a.pipeline_status || "pending"}`);
    if (a.fix) {
      li.append(el("p", {}, `Fix: ${a.fix.strategy}: ${a.fix.summary}`));
      if (a.fix.diff) li.append(highlighted(a.fix.diff, true));
    }
    const jobs = a.failed_jobs || [];
    const failed = jobs.filter((j) => j.status === "failed");
    const held = jobs.filter((j) => j.status !== "failed");
    if (jobs.length) {
      li.append(el("ul", {}, ...(failed.length ? failed : held).map((j) => el("li", { class: "job-failed" },
        `${j.name} (${j.stage}) ${j.status}`, j.class ? ` · ${j.class}` : "",
        j.evidence ? el("pre", {}, `line ${j.line}: ${j.evidence}`) : null))));
      if (failed.length && held.length) {
        li.append(el("p", { class: "help" }, "Not run because of it: " + held.map((j) => `${j.name} (${j.status})`).join(", ")));
      }
    }
    return li;
  }));
}

async function watch(runId) {
  state.runId = runId;
  state.history = [];
  $("run").hidden = false;
  const token = {};
  state.watching = token;
  try {
    const run = await api("GET", `/api/v1/pipeline/runs/${encodeURIComponent(runId)}`);
    if (state.watching !== token) return;
    if (!$("run-facts").textContent.includes(runId)) {
      const r = run.result || {};
      renderCommit({ run_id: run.id, project_path: r.project_path || run.project, branch: r.branch, commit_id: r.commit_id, commit_tag: r.commit_tag, web_url: r.web_url });
    }
    if (!run.monitor) {
      $("run-outcome").textContent = run.error ? `The run failed: ${run.error.message}` : `The run ${run.status}; its pipeline is not monitored.`;
      return;
    }
    renderMonitor(run.monitor);
    if (FINAL.includes(run.monitor.status)) return;
    await stream("GET", `/api/v1/pipeline/runs/${encodeURIComponent(runId)}/events`, undefined, (name, data) => {
      if (name === "monitor" && state.watching === token) renderMonitor(JSON.parse(data));
    });
    loadRuns();
    loadTemplates();
  } catch (e) {
    if (!(e instanceof Unauthorized)) $("run-outcome").textContent = `Cannot watch the run: ${e.message}`;
  }
}

// ---- ask ----

$("ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const body = { message: question, history: state.history.slice(-10) };
  if (state.runId) body.run_id = state.runId;
  else {
    const repo = $("repository").value.trim();
    if (!repo) { $("ask-status").textContent = "Enter a repository or watch a run first: answers come from it."; return; }
    body.repository_url = repo;
  }
  $("ask-status").textContent = "Thinking…";
  const item = el("li", {}, el("p", { class: "q" }, question));
  $("answers").prepend(item);
  try {
    let answered = false;
    await stream("POST", "/api/v1/chat/stream", body, (name, data) => {
      if (name === "status") $("ask-status").textContent = `${JSON.parse(data).step}…`;
      else if (name === "answer") {
        answered = true;
        const a = JSON.parse(data);
        item.append(el("p", { class: "a" }, a.answer));
        item.append(el("p", { class: "by help" }, a.answered_by === "pipewright" ? "Answered by pipewright from the analysis and the run (no model)." : `Answered by ${a.answered_by}, from the sources below.`));
        if (a.sources.length) item.append(el("details", { class: "sources" }, el("summary", {}, `Sources (${a.sources.length})`),
          el("ul", {}, ...a.sources.map((s) => el("li", {}, `${s.kind} `, el("code", {}, s.ref), `: ${s.excerpt}`)))));
        state.history.push({ role: "user", content: question }, { role: "assistant", content: a.answer });
      } else if (name === "error") {
        answered = true;
        item.append(el("p", { class: "error" }, errorText(JSON.parse(data), "error")));
      }
    });
    if (!answered) item.append(el("p", { class: "error" }, "No answer came."));
    $("question").value = "";
  } catch (e) {
    if (!(e instanceof Unauthorized)) item.append(el("p", { class: "error" }, `Ask failed: ${e.message}`));
  }
  $("ask-status").textContent = "";
});

start();
