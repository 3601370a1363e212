//! `pipewright watch <PROJECT> [--branch B | --pipeline ID] [--json]`: follows a pipeline
//! in GitLab until it ends, one status line per job (redrawn in place on a terminal, printed
//! on change otherwise), then runs the quality gate the monitor uses. Exit 0 when the gate
//! passes, 1 when it does not, 2 for bad usage, 4 when GitLab cannot be used.

use super::exit;
use super::failure::Failure;
use crate::serve::error::ErrorKind;
use clap::Args;
use pipewright_adapters::gitlab::{GitLabClient, GitLabConfig};
use pipewright_core::gitlab::{GitLab, Job, Pipeline, ProjectRef, RawFile};
use pipewright_core::monitor::{on_failure_jobs, quality_gate, GateInput};
use pipewright_core::quote::for_terminal;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The project: its id or `group/project` path.
    pub project: String,
    /// Follow the newest pipeline of this branch's head commit [default: the default branch].
    #[arg(long, conflicts_with = "pipeline")]
    pub branch: Option<String>,
    /// Follow this pipeline.
    #[arg(long)]
    pub pipeline: Option<u64>,
    /// Print one JSON object at the end instead of live lines.
    #[arg(long)]
    pub json: bool,
    /// Seconds between looks [default: $PIPEWRIGHT_POLL_INTERVAL, else 5].
    #[arg(long, value_name = "SECONDS")]
    pub interval: Option<f64>,
    /// Give up after this many seconds [default: $PIPEWRIGHT_MONITOR_TIMEOUT, else 900].
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
}

pub fn run(args: WatchArgs) -> i32 {
    let Some(runtime) = crate::setup::runtime(false) else {
        return exit::FAILURE;
    };
    let json = args.json;
    match runtime.block_on(watch(args)) {
        Ok(code) => code,
        Err(f) => f.report(json),
    }
}

fn seconds(flag: Option<f64>, var: &str, default: f64) -> Result<Duration, String> {
    let value = match flag {
        Some(v) => v,
        None => match std::env::var(var) {
            Ok(t) if !t.trim().is_empty() => t
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("{var} `{t}` is not a number of seconds"))?,
            _ => default,
        },
    };
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("{var}: {value} is not a number of seconds above 0"));
    }
    Ok(Duration::from_secs_f64(value))
}

async fn watch(args: WatchArgs) -> Result<i32, Failure> {
    let interval = seconds(args.interval, "PIPEWRIGHT_POLL_INTERVAL", 5.0)
        .map_err(|e| Failure::usage("--interval", e))?;
    let timeout = seconds(args.timeout, "PIPEWRIGHT_MONITOR_TIMEOUT", 900.0)
        .map_err(|e| Failure::usage("--timeout", e))?;
    let client = GitLabConfig::from_env()
        .and_then(GitLabClient::new)
        .map_err(|e| Failure::api(exit::USAGE, e))?;
    follow(&client, &args, interval, timeout).await
}

/// The pipeline to follow: the one named, else the newest of the branch's head commit.
async fn find_pipeline(
    gitlab: &dyn GitLab,
    project: &ProjectRef,
    args: &WatchArgs,
) -> Result<Option<Pipeline>, pipewright_core::gitlab::GitLabError> {
    if let Some(id) = args.pipeline {
        return gitlab.pipeline(project, id).await.map(Some);
    }
    let branch = match &args.branch {
        Some(b) => b.clone(),
        None => match gitlab.project(project).await?.default_branch {
            Some(b) => b,
            None => return Ok(None),
        },
    };
    let Some(head) = gitlab.branch(project, &branch).await? else {
        return Ok(None);
    };
    let pipelines = gitlab
        .pipelines_for_sha(project, &head.commit.id, Some(&branch))
        .await?;
    Ok(pipelines.into_iter().max_by_key(|p| p.id))
}

pub(super) fn job_line(job: &Job) -> String {
    use super::output::{paint, Tone};
    let (mark, tone) = match job.status.as_str() {
        "success" => ("  ok", Some(Tone::Good)),
        "failed" => ("FAIL", Some(Tone::Error)),
        "running" => ("  ..", None),
        "skipped" | "manual" | "canceled" => ("  --", Some(Tone::Warning)),
        _ => ("    ", None),
    };
    let mark = tone.map_or_else(|| mark.to_string(), |t| paint(mark, t));
    let reason = job
        .failure_reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    // Names and reasons come from GitLab: escaped, so only our colours are control characters.
    let t = pipewright_core::quote::for_terminal;
    format!(
        "[{mark}] {:<12} {:<28} {}{}",
        t(&job.stage),
        t(&job.name),
        job.status,
        t(&reason)
    )
}

async fn follow(
    gitlab: &GitLabClient,
    args: &WatchArgs,
    interval: Duration,
    timeout: Duration,
) -> Result<i32, Failure> {
    let project = ProjectRef::from(args.project.as_str());
    let started = Instant::now();
    let live = !args.json && std::io::stdout().is_terminal();
    let mut drawn = 0usize;
    let mut last_lines: Vec<String> = Vec::new();
    let pipeline = loop {
        if let Some(p) = find_pipeline(gitlab, &project, args).await? {
            break p;
        }
        if started.elapsed() > timeout {
            return Err(Failure::new(
                exit::FAILURE,
                ErrorKind::Timeout,
                format!("no pipeline appeared within {} s", timeout.as_secs()),
            ));
        }
        tokio::time::sleep(interval).await;
    };
    if !args.json {
        outln!(
            "pipeline {} ({}) {}",
            pipeline.id,
            for_terminal(&pipeline.git_ref),
            for_terminal(&pipeline.web_url)
        );
    }
    let (pipeline, jobs) = loop {
        let p = gitlab.pipeline(&project, pipeline.id).await?;
        let mut jobs = gitlab.pipeline_jobs(&project, p.id, false).await?;
        jobs.sort_by_key(|j| j.id);
        if !args.json {
            // Job names and refs come from the repository: shown with control characters
            // escaped, so a name cannot move the cursor or clear the screen.
            let mut lines: Vec<String> = jobs
                .iter()
                .map(|j| for_terminal(&job_line(j)).into_owned())
                .collect();
            lines.push(format!("pipeline: {}", p.status));
            if live {
                if drawn > 0 {
                    out!("\x1b[{drawn}A");
                }
                for l in &lines {
                    outln!("\x1b[2K{l}");
                }
                drawn = lines.len();
            } else {
                for l in lines.iter().filter(|l| !last_lines.contains(l)) {
                    outln!("{l}");
                }
            }
            crate::cli::output::flush_stdout();
            last_lines = lines;
        }
        if p.status.is_terminal() {
            break (p, jobs);
        }
        if started.elapsed() > timeout {
            return Err(Failure::new(
                exit::FAILURE,
                ErrorKind::Timeout,
                format!("the pipeline did not finish within {} s", timeout.as_secs()),
            ));
        }
        tokio::time::sleep(interval).await;
    };
    let ci = match gitlab
        .raw_file(&project, ".gitlab-ci.yml", &pipeline.sha, 256 * 1024)
        .await
    {
        Ok(RawFile::Bytes(b)) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    };
    let mut input = GateInput::new(&jobs);
    input.on_failure_jobs = on_failure_jobs(&ci);
    let verdict = quality_gate(&input);
    if args.json {
        let value = serde_json::json!({
            "pipeline_id": pipeline.id,
            "pipeline_url": pipeline.web_url,
            "pipeline_status": pipeline.status.as_str(),
            "gate": {"passed": verdict.passed, "reason": verdict.reason,
                     "blocking": verdict.blocking.iter().map(|j| serde_json::json!({
                         "name": j.name, "stage": j.stage, "status": j.status.as_str(),
                         "failure_reason": j.failure_reason})).collect::<Vec<_>>()},
            "jobs": jobs.iter().map(|j| serde_json::json!({
                "name": j.name, "stage": j.stage, "status": j.status.as_str()})).collect::<Vec<_>>(),
        });
        outln!("{value:#}");
    } else {
        let word = if verdict.passed {
            "passed"
        } else {
            "did not pass"
        };
        outln!("quality gate {word}: {}", for_terminal(&verdict.reason));
    }
    Ok(if verdict.passed {
        exit::OK
    } else {
        exit::FAILURE
    })
}
