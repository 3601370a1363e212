//! `pipewright heal <PROJECT> --branch B [--max N] [--json]`: runs the self-heal loop on a
//! branch from the terminal. The branch's `.gitlab-ci.yml` and Dockerfile are the files
//! pipewright may change; the monitor the service uses follows the head commit's pipeline,
//! classifies failed jobs, retries runner failures, commits fixes (`[Self-Heal N/MAX] …`) on
//! the same branch and follows each new pipeline, with `watch`'s job lines per attempt. The
//! task is kept in the data folder's run store, so the fixes that worked are remembered.
//! Exit 0 when a pipeline passes the quality gate, 1 when the loop stops without one, 2 for
//! bad usage, 4 when GitLab cannot be used.

use super::{config, exit, watch};
use crate::setup::BackendArgs;
use clap::Args;
use pipewright_adapters::gitlab::{GitLabClient, GitLabConfig};
use pipewright_adapters::runs::new_run_id;
use pipewright_core::gitlab::{GitLab, GitLabError, ProjectRef, RawFile};
use pipewright_core::images::Registry;
use pipewright_core::monitor::{MonitorStore, MonitorTask};
use pipewright_workflow::monitor::{HealTools, Monitor, MonitorConfig};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The files self-heal may change, when the branch has them.
const HEALED_FILES: &[&str] = &[".gitlab-ci.yml", "Dockerfile"];
/// The most of one file read.
const MAX_FILE_BYTES: u64 = 512 * 1024;

#[derive(Debug, Args)]
pub struct HealArgs {
    /// The project: its id or `group/project` path.
    pub project: String,
    /// The branch whose pipeline is healed (fix commits go there too; never the default branch).
    #[arg(long)]
    pub branch: String,
    /// Fix commits at most [default: $MAX_SELF_HEAL_ATTEMPTS, else 10].
    #[arg(long, value_name = "N")]
    pub max: Option<u32>,
    /// Print the run's `monitor` object (attempts, fixes, the reason it stopped) at the end
    /// instead of live lines.
    #[arg(long)]
    pub json: bool,
    /// A pipewright.toml to read (the registry to seed missing images into).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub backends: BackendArgs,
}

pub fn run(args: HealArgs) -> i32 {
    let Some(runtime) = crate::setup::runtime(true) else {
        return exit::FAILURE;
    };
    runtime.block_on(heal(args))
}

async fn heal(args: HealArgs) -> i32 {
    let mut monitor_config = match MonitorConfig::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    if let Some(max) = args.max {
        if !(1..=100).contains(&max) {
            eprintln!("error: --max {max}: give a number of fix commits from 1 to 100");
            return exit::USAGE;
        }
        monitor_config.max_heal_attempts = max;
    }
    let client = match GitLabConfig::from_env().and_then(GitLabClient::new) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let settings = match config::load_base(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let tasks = match args.backends.open_sqlite_runs() {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("error: the run store cannot be opened: {e}");
            return exit::USAGE;
        }
    };
    let (llm, temperature) = args.backends.open_llm();
    let images = super::images::seeding(&settings.images, &settings.generator, None)
        .ok()
        .map(|s| (Arc::new(s.registry) as Arc<dyn Registry>, s.settings));
    let tools = HealTools {
        llm: llm.ok().map(|l| (l, temperature)),
        images,
        memory: Some(tasks.clone()),
    };
    let knowledge = args.backends.open_store().map_err(|e| e.to_string());
    let interval = monitor_config.poll_interval;
    let monitor = Monitor::with_tools(
        client.clone(),
        tasks.clone(),
        knowledge,
        monitor_config,
        tools,
    );
    match start(&monitor, client.as_ref(), &args).await {
        Ok(Err(usage)) => {
            eprintln!("error: {usage}");
            exit::USAGE
        }
        Ok(Ok(run_id)) => follow(client.as_ref(), &*tasks, &run_id, &args, interval).await,
        Err(e) => {
            eprintln!("error: {e}");
            exit::UNREACHABLE
        }
    }
}

/// Reads the branch's head and files and starts the monitor's task; `Ok(Err)` is the user's
/// mistake (no such branch, the default branch, no pipeline file).
async fn start(
    monitor: &Monitor,
    gitlab: &dyn GitLab,
    args: &HealArgs,
) -> Result<Result<String, String>, GitLabError> {
    let project_ref = ProjectRef::from(args.project.as_str());
    let project = gitlab.project(&project_ref).await?;
    if project.default_branch.as_deref() == Some(args.branch.as_str()) {
        return Ok(Err(format!(
            "`{}` is the default branch of {}; pipewright commits fixes only to another branch",
            args.branch, project.path_with_namespace
        )));
    }
    let Some(branch) = gitlab.branch(&project_ref, &args.branch).await? else {
        return Ok(Err(format!(
            "{} has no branch `{}`",
            project.path_with_namespace, args.branch
        )));
    };
    let head = branch.commit.id;
    let mut files = BTreeMap::new();
    for path in HEALED_FILES {
        match gitlab
            .raw_file(&project_ref, path, &head, MAX_FILE_BYTES)
            .await
        {
            Ok(RawFile::Bytes(bytes)) => {
                files.insert(
                    path.to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                );
            }
            Ok(_) | Err(GitLabError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if !files.contains_key(".gitlab-ci.yml") {
        return Ok(Err(format!(
            "branch `{}` has no .gitlab-ci.yml: nothing to heal",
            args.branch
        )));
    }
    let run_id = new_run_id();
    monitor
        .watch(
            &run_id,
            project.id,
            &project.path_with_namespace,
            &args.branch,
            &head,
            None,
            files,
        )
        .await
        .map_err(|e| GitLabError::InvalidResponse {
            what: "saving the heal task".into(),
            reason: e.to_string(),
        })?;
    Ok(Ok(run_id))
}

/// Prints each attempt (its fix, then `watch`'s job lines for its pipeline) until the task
/// is final; the exit code follows its status.
async fn follow(
    gitlab: &dyn GitLab,
    tasks: &dyn MonitorStore,
    run_id: &str,
    args: &HealArgs,
    interval: Duration,
) -> i32 {
    let mut out = std::io::stdout();
    let live = !args.json && out.is_terminal();
    let mut printed_attempts = 0usize;
    let mut last_lines: Vec<String> = Vec::new();
    let mut drawn = 0usize;
    let task = loop {
        let task = match tasks.task(run_id).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                tokio::time::sleep(interval).await;
                continue;
            }
            Err(e) => {
                eprintln!("error: the run store cannot be read: {e}");
                return exit::FAILURE;
            }
        };
        if !args.json {
            while printed_attempts < task.attempts.len() {
                let a = &task.attempts[printed_attempts];
                let how = match &a.fix {
                    None => "as committed".to_string(),
                    Some(f) => format!(
                        "{}: {}{}",
                        f.strategy,
                        f.summary,
                        f.commit_id
                            .as_deref()
                            .map(|c| format!(" (commit {})", c.chars().take(8).collect::<String>()))
                            .unwrap_or_default()
                    ),
                };
                let _ = writeln!(out, "attempt {} — {how}", a.attempt);
                printed_attempts += 1;
                last_lines.clear();
                drawn = 0;
            }
            if let Some(pipeline) = task.current().pipeline_id {
                let project = ProjectRef::Id(task.project_id);
                if let Ok(mut jobs) = gitlab.pipeline_jobs(&project, pipeline, false).await {
                    jobs.sort_by_key(|j| j.id);
                    let mut lines: Vec<String> = jobs.iter().map(watch::job_line).collect();
                    lines.push(format!("status: {}", task.status.as_str()));
                    if live {
                        if drawn > 0 {
                            let _ = write!(out, "\x1b[{drawn}A");
                        }
                        for l in &lines {
                            let _ = writeln!(out, "\x1b[2K{l}");
                        }
                        drawn = lines.len();
                    } else {
                        for l in lines.iter().filter(|l| !last_lines.contains(l)) {
                            let _ = writeln!(out, "{l}");
                        }
                    }
                    let _ = out.flush();
                    last_lines = lines;
                }
            }
        }
        if !task.is_unfinished() {
            break task;
        }
        tokio::time::sleep(interval).await;
    };
    report(&task, args.json);
    match task.status.as_str() {
        "succeeded" => exit::OK,
        _ => exit::FAILURE,
    }
}

fn report(task: &MonitorTask, json: bool) {
    let mut out = std::io::stdout();
    if json {
        let mut value = task.to_json();
        value["run_id"] = serde_json::json!(task.run_id);
        let _ = writeln!(out, "{value:#}");
        return;
    }
    let fixes = task
        .attempts
        .iter()
        .filter(|a| a.fix.as_ref().is_some_and(|f| f.commit_id.is_some()))
        .count();
    let _ = writeln!(
        out,
        "{}: {} attempt(s), {fixes} fix commit(s){}",
        task.status.as_str(),
        task.attempts.len(),
        task.heal_note
            .as_deref()
            .map(|n| format!("\n{n}"))
            .unwrap_or_default()
    );
}
