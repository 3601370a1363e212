//! GitLab over its REST API v4: [`GitLabClient`] implements
//! [`pipewright_core::gitlab::GitLab`] (projects, tree, files, branches, commits, pipelines,
//! jobs, traces, CI Lint) with retries and time limits; [`GitLabSource`] reads a project for
//! the analyzer; [`UrlPolicy`] decides which project URLs a user may give.
//!
//! Configuration comes from `GITLAB_URL` and `GITLAB_TOKEN` (sent as `PRIVATE-TOKEN`, and
//! never printed), optionally `GITLAB_ALLOWED_HOSTS`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pipewright_core::gitlab::GitLabError> {
//! use pipewright_adapters::gitlab::{GitLabClient, GitLabConfig};
//! use pipewright_core::gitlab::{GitLab, ProjectRef};
//! let client = GitLabClient::new(GitLabConfig::from_env()?)?;
//! let location = client.policy().project_from_url("https://gitlab.example.com/team/app")?;
//! let project = client.project(&ProjectRef::Path(location.project_path)).await?;
//! let files = [(".gitlab-ci.yml".to_string(), "stages: [build]\n".to_string())];
//! let start = project.default_branch.as_deref().unwrap_or("main");
//! let commit = client
//!     .commit_files(&ProjectRef::Id(project.id), "feature/ai-pipeline-1", Some(start), "Add CI", &files)
//!     .await?;
//! println!("{}", commit.web_url);
//! # Ok(()) }
//! ```

mod client;
mod source;
mod url_policy;

pub use client::{encode_segment, GitLabClient, GitLabConfig, GitLabToken, RetryPolicy};
pub use source::{GitLabSource, FETCH_CONCURRENCY};
pub use url_policy::{classify_host, HostClass, ProjectLocation, UrlPolicy};
