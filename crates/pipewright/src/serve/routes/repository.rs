//! How analyze and generate requests name a repository: exactly one of `repository_url` (a
//! GitLab project, read through the GitLab API, with an optional `ref`), `files` (inline
//! `{"path": "content"}`) or `path` (a folder on this server's disk, only with
//! `--allow-local-paths`). [`repository_request!`] declares a request type with these fields
//! plus its own; [`open`] turns the choice into a source.

use crate::serve::error::{ApiError, ErrorKind};
use crate::serve::state::AppState;
use pipewright_adapters::source::{InlineSource, LocalSource};
use pipewright_core::source::RepoSource;
use std::collections::BTreeMap;

/// Declares a request type that names a repository, with the fields given after it.
macro_rules! repository_request {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        $(#[$meta])*
        pub struct $name {
            /// A GitLab project URL on the configured GitLab
            /// (`https://gitlab.example.com/group/project`) or its `group/project` path, read
            /// through the GitLab API.
            #[serde(default)]
            pub repository_url: Option<String>,
            /// Branch, tag or commit for `repository_url` (default: one in the URL, else the
            /// project's default branch).
            #[serde(default, rename = "ref")]
            pub reference: Option<String>,
            /// The repository inline: relative path → file content. Send the manifests, lock
            /// files, version files, Dockerfiles and the source files.
            #[serde(default)]
            pub files: Option<std::collections::BTreeMap<String, String>>,
            /// A folder on the server's disk; accepted only when the server runs with
            /// `--allow-local-paths`.
            #[serde(default)]
            pub path: Option<String>,
            $($(#[$fmeta])* #[serde(default)] pub $field: $ty,)*
        }

        impl $name {
            /// The one repository the request names.
            pub fn repository(&mut self) -> Result<
                crate::serve::routes::repository::Repository,
                crate::serve::error::ApiError,
            > {
                crate::serve::routes::repository::Repository::choose(
                    self.repository_url.take(),
                    self.reference.take(),
                    self.files.take(),
                    self.path.take(),
                )
            }
        }
    };
}
pub(crate) use repository_request;

/// The repository a request named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repository {
    GitLab {
        url: String,
        reference: Option<String>,
    },
    Files(BTreeMap<String, String>),
    Path(String),
}

impl Repository {
    /// Exactly one of the three, and `ref` only with `repository_url`.
    pub fn choose(
        repository_url: Option<String>,
        reference: Option<String>,
        files: Option<BTreeMap<String, String>>,
        path: Option<String>,
    ) -> Result<Self, ApiError> {
        let given: Vec<&str> = [
            ("repository_url", repository_url.is_some()),
            ("files", files.is_some()),
            ("path", path.is_some()),
        ]
        .iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| *name)
        .collect();
        if given.len() > 1 {
            return Err(ApiError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "give exactly one of `repository_url`, `files` or `path`; this request gives {}",
                    given.join(" and ")
                ),
            )
            .field(given[1]));
        }
        if reference.is_some() && repository_url.is_none() {
            return Err(ApiError::invalid_field(
                "ref",
                "`ref` goes with `repository_url`; inline files and local folders have no refs",
            ));
        }
        match (repository_url, files, path) {
            (Some(url), _, _) => Ok(Repository::GitLab { url, reference }),
            (_, Some(files), _) => Ok(Repository::Files(files)),
            (_, _, Some(path)) => Ok(Repository::Path(path)),
            _ => Err(ApiError::new(
                ErrorKind::InvalidRequest,
                "name the repository: give `repository_url` (a GitLab project URL), `files` ({\"path\": \"content\"}) or `path` (a folder on the server, with --allow-local-paths)",
            )),
        }
    }
}

/// Opens the repository: a GitLab project is fetched now (its URL checked by the policy before
/// any connection); inline files are checked; a local path needs `--allow-local-paths` and
/// is only opened here (it is listed later, on a blocking thread).
pub async fn open(
    state: &AppState,
    repository: Repository,
) -> Result<Box<dyn RepoSource>, ApiError> {
    match repository {
        Repository::GitLab { url, reference } => {
            let client = state.gitlab()?;
            // `group/project` (no scheme) names a project on the configured GitLab.
            let url = if url.contains("://") {
                url
            } else {
                format!(
                    "{}/{}",
                    client.policy().base().as_str().trim_end_matches('/'),
                    url.trim().trim_matches('/')
                )
            };
            let source = pipewright_workflow::analyze::open_gitlab_project(
                client,
                &url,
                reference.as_deref(),
            )
            .await?;
            Ok(Box::new(source))
        }
        Repository::Files(files) => Ok(Box::new(InlineSource::new("inline", files)?)),
        Repository::Path(path) => {
            if state.local_roots.is_empty() {
                return Err(ApiError::new(
                    ErrorKind::Forbidden,
                    "`path` names a folder on the server, which this server does not accept; send the files inline with `files`, give a GitLab `repository_url`, or start the server with --allow-local-paths DIR",
                )
                .field("path"));
            }
            let roots = state.local_roots.clone();
            let source = crate::serve::blocking(move || {
                let folder = inside_roots(&path, &roots)?;
                LocalSource::open(&folder).map_err(ApiError::from)
            })
            .await??;
            Ok(Box::new(source))
        }
    }
}

/// The folder `path` names when it lies inside one of `roots` (canonical folders): first by
/// its text (absolute, no `..`), so nothing outside is even looked up, then by where it
/// really leads (a link inside a root may point out of it).
fn inside_roots(path: &str, roots: &[std::path::PathBuf]) -> Result<std::path::PathBuf, ApiError> {
    use std::path::{Component, Path};
    let outside = || {
        ApiError::new(
            ErrorKind::Forbidden,
            "`path` is not inside a folder this server allows (--allow-local-paths DIR); send the files inline with `files` instead",
        )
        .field("path")
    };
    let given = Path::new(path);
    if !given.is_absolute() || given.components().any(|c| c == Component::ParentDir) {
        return Err(ApiError::invalid_field(
            "path",
            "`path` must be an absolute path without `..`",
        ));
    }
    if !roots.iter().any(|root| given.starts_with(root)) {
        return Err(outside());
    }
    let real = std::fs::canonicalize(given)
        .map_err(|e| ApiError::invalid_field("path", format!("`path` cannot be opened: {e}")))?;
    if !roots.iter().any(|root| real.starts_with(root)) {
        return Err(outside());
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_repository() {
        let files = || Some(BTreeMap::from([("a".to_string(), String::new())]));
        assert!(matches!(
            Repository::choose(None, None, files(), None),
            Ok(Repository::Files(_))
        ));
        let two = Repository::choose(Some("u".into()), None, files(), None).unwrap_err();
        assert_eq!(two.field.as_deref(), Some("files"));
        let none = Repository::choose(None, None, None, None).unwrap_err();
        assert_eq!(none.kind, ErrorKind::InvalidRequest);
        let stray_ref = Repository::choose(None, Some("main".into()), files(), None).unwrap_err();
        assert_eq!(stray_ref.field.as_deref(), Some("ref"));
    }
}
