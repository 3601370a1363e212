//! What a preview adds to the generated files: the repository's own version of each file
//! pipewright would write, and a unified diff from it to pipewright's, so a person sees what
//! a commit would change before making it.

use pipewright_core::index::Content;
use pipewright_core::source::RepoSource;
use serde::Serialize;
use std::collections::BTreeMap;

/// The most bytes of an existing file read for a diff.
const MAX_EXISTING_BYTES: u64 = 1024 * 1024;

/// A file the repository already has at a path pipewright would write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExistingFile {
    /// The repository's content.
    pub content: String,
    /// A unified diff from the repository's content to pipewright's (`a/<path>` → `b/<path>`);
    /// empty when they are equal.
    pub diff: String,
}

/// For each generated path the repository already holds (and the source could read), its
/// content and the diff to the generated one. Paths the source did not read (a GitLab source
/// fetches only the files the analyzer wants) are left out.
pub fn existing_files(
    source: &dyn RepoSource,
    generated: &BTreeMap<String, String>,
) -> BTreeMap<String, ExistingFile> {
    let mut out = BTreeMap::new();
    for (path, new) in generated {
        if let Content::Text(old) = source.read(path, MAX_EXISTING_BYTES) {
            let diff = if &old == new {
                String::new()
            } else {
                similar::TextDiff::from_lines(old.as_str(), new.as_str())
                    .unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{path}"), &format!("b/{path}"))
                    .to_string()
            };
            out.insert(path.clone(), ExistingFile { content: old, diff });
        }
    }
    out
}
