//! The view of one folder that a detector gets: file lookups relative to the folder,
//! parsed manifests (a malformed one becomes a warning, never a panic), version files
//! looked up toward the root, and source size per language.

use super::Candidate;
use crate::index::{join, parent_dir, IndexedFile, RepoIndex};
use crate::stack::Language;

/// One folder of the index, as seen by a detector.
#[derive(Clone, Copy)]
pub struct DirContext<'a> {
    pub index: &'a RepoIndex,
    /// The folder, `""` for the root, never with a trailing `/`.
    pub dir: &'a str,
}

/// `"."` for the root, the folder otherwise.
pub fn display_dir(dir: &str) -> String {
    if dir.is_empty() {
        ".".to_string()
    } else {
        dir.to_string()
    }
}

impl<'a> DirContext<'a> {
    pub fn new(index: &'a RepoIndex, dir: &'a str) -> Self {
        DirContext { index, dir }
    }

    /// The root-relative path of `rel` inside this folder.
    pub fn path(&self, rel: &str) -> String {
        join(self.dir, rel)
    }

    pub fn has(&self, rel: &str) -> bool {
        self.index.exists(&self.path(rel))
    }

    /// The text of `rel` inside this folder, if it was read.
    pub fn text(&self, rel: &str) -> Option<&'a str> {
        self.index.text(&self.path(rel))
    }

    /// The files directly in this folder.
    pub fn files(&self) -> impl Iterator<Item = &'a IndexedFile> + 'a {
        self.index.files_in(self.dir)
    }

    /// The first file directly in this folder whose name ends with `suffix` (`.csproj`).
    pub fn first_with_suffix(&self, suffix: &str) -> Option<&'a IndexedFile> {
        let mut found: Vec<&IndexedFile> = self
            .files()
            .filter(|f| f.name().ends_with(suffix))
            .collect();
        found.sort_by(|a, b| a.path.cmp(&b.path));
        found.into_iter().next()
    }

    /// Every file below this folder (any depth), vendored ones included.
    pub fn files_under(&self) -> impl Iterator<Item = &'a IndexedFile> + 'a {
        self.index.files_under(self.dir)
    }

    /// Counted bytes of source in `language` below this folder.
    pub fn language_bytes(&self, language: Language) -> u64 {
        self.source_stats(&[language.as_str()]).1
    }

    /// Counted files and bytes below this folder for each of the given index languages.
    pub fn source_stats(&self, languages: &[&str]) -> (usize, u64) {
        self.index
            .language_bytes(self.dir)
            .into_iter()
            .filter(|(l, _, _)| languages.contains(l))
            .fold((0, 0), |(n, b), (_, files, bytes)| (n + files, b + bytes))
    }

    /// Finds `name` in this folder or the nearest parent folder up to the root; returns its
    /// root-relative path and text.
    pub fn find_up(&self, name: &str) -> Option<(String, &'a str)> {
        let mut dir = self.dir;
        loop {
            let path = join(dir, name);
            if let Some(text) = self.index.text(&path) {
                return Some((path, text));
            }
            if dir.is_empty() {
                return None;
            }
            dir = parent_dir(dir);
        }
    }

    /// Finds `name` in this folder or the nearest parent folder up to the root, whether or
    /// not its content was read (wrapper scripts, lock files); returns the folder holding it.
    pub fn find_up_dir(&self, name: &str) -> Option<&'a str> {
        let mut dir = self.dir;
        loop {
            if self.index.exists(&join(dir, name)) {
                return Some(dir);
            }
            if dir.is_empty() {
                return None;
            }
            dir = parent_dir(dir);
        }
    }

    /// Parses `rel` as JSON; a malformed file is a warning on the candidate.
    pub fn json(&self, rel: &str, cand: &mut Candidate) -> Option<serde_json::Value> {
        let text = self.text(rel)?;
        match serde_json::from_str(text) {
            Ok(v) => Some(v),
            Err(e) => {
                cand.warn(self.path(rel), format!("malformed JSON, ignored: {e}"));
                None
            }
        }
    }

    /// Parses `rel` as TOML; a malformed file is a warning on the candidate.
    pub fn toml(&self, rel: &str, cand: &mut Candidate) -> Option<toml::Table> {
        let text = self.text(rel)?;
        match text.parse::<toml::Table>() {
            Ok(v) => Some(v),
            Err(e) => {
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or("parse error").to_string();
                cand.warn(self.path(rel), format!("malformed TOML, ignored: {first}"));
                None
            }
        }
    }

    /// The display form of this folder (`.` for the root).
    pub fn display(&self) -> String {
        display_dir(self.dir)
    }
}

/// Resolves `rel` (a path written in a manifest: `../lib`, `.\\src\\App.csproj`, `./api`)
/// against the folder `dir`; `None` when it climbs above the repository root.
pub fn resolve(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The relative path from `dir` up to its ancestor `root` (`""`, `"../"`, `"../../"` …).
pub fn up_to(dir: &str, root: &str) -> String {
    let depth = |d: &str| d.split('/').filter(|p| !p.is_empty()).count();
    "../".repeat(depth(dir).saturating_sub(depth(root)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_a_folder() {
        assert_eq!(resolve("a/b", "../c").as_deref(), Some("a/c"));
        assert_eq!(resolve("", "./api").as_deref(), Some("api"));
        assert_eq!(
            resolve("", "src\\App\\App.csproj").as_deref(),
            Some("src/App/App.csproj")
        );
        assert_eq!(resolve("", "../x"), None);
        assert_eq!(up_to("crates/api", ""), "../../");
        assert_eq!(up_to("", ""), "");
    }
}
