//! Knowledge store backends and how one is chosen: the embedded SQLite file ([`SqliteStore`],
//! the default, no set-up) and ChromaDB ([`ChromaStore`], for teams sharing one store), both
//! implementing [`pipewright_core::knowledge::KnowledgeStore`]; plus import and export of
//! template folders ([`folder`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), pipewright_core::knowledge::StoreError> {
//! use pipewright_adapters::store::{open_store, StoreSettings};
//! use pipewright_core::knowledge::{retrieve, BuiltinEmbedder, StackKey};
//! use pipewright_core::stack::Language;
//! use std::sync::Arc;
//! let settings = StoreSettings::from_env(None, None)?;
//! let store = open_store(&settings, Arc::new(BuiltinEmbedder::default()))?;
//! let found = retrieve(store.as_ref(), &StackKey::new(Language::Go)).await;
//! println!("{}", found.summary());
//! # Ok(()) }
//! ```

pub mod chroma;
pub mod folder;
pub mod sqlite;

pub use chroma::{ChromaConfig, ChromaStore};
pub use sqlite::{SqliteOptions, SqliteStore};

use pipewright_core::knowledge::{Embedder, KnowledgeStore, StoreError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    ChromaDb,
}

impl StoreKind {
    /// The names accepted by `--store`.
    pub const NAMES: &'static [(&'static str, StoreKind)] = &[
        ("embedded", StoreKind::Embedded),
        ("chromadb", StoreKind::ChromaDb),
    ];

    /// The name `--store` accepts.
    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("embedded")
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StoreKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == wanted)
            .map(|(_, k)| *k)
            .ok_or_else(|| format!("unknown store `{s}`; use `embedded` or `chromadb`"))
    }
}

/// Everything needed to open a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub kind: StoreKind,
    /// Where the embedded store's file lives.
    pub data_dir: PathBuf,
    /// Set when `CHROMADB_HOST` is.
    pub chroma: Option<ChromaConfig>,
}

impl StoreSettings {
    /// Settings from flags and the process environment; see [`StoreSettings::from_vars`].
    pub fn from_env(kind: Option<StoreKind>, data_dir: Option<&Path>) -> Result<Self, StoreError> {
        Self::from_vars(kind, data_dir, |k| std::env::var(k).ok())
    }

    /// The backend is `kind` when given, else ChromaDB when `CHROMADB_HOST` is set (the seed's
    /// deployments), else embedded. The data folder is `data_dir` when given, else
    /// `PIPEWRIGHT_DATA_DIR`, else the platform's data folder plus `pipewright`.
    pub fn from_vars(
        kind: Option<StoreKind>,
        data_dir: Option<&Path>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StoreError> {
        let chroma = ChromaConfig::from_vars(&var)?;
        let kind = kind.unwrap_or(if chroma.is_some() {
            StoreKind::ChromaDb
        } else {
            StoreKind::Embedded
        });
        let data_dir = match data_dir {
            Some(d) => d.to_path_buf(),
            None => match var("PIPEWRIGHT_DATA_DIR").filter(|d| !d.trim().is_empty()) {
                Some(d) => PathBuf::from(d),
                None => dirs::data_dir()
                    .map(|d| d.join("pipewright"))
                    .ok_or_else(|| StoreError::Backend {
                        backend: "embedded store".into(),
                        operation: "find a data folder".into(),
                        message: "this platform reports no data folder; set --data-dir or PIPEWRIGHT_DATA_DIR".into(),
                    })?,
            },
        };
        Ok(StoreSettings {
            kind,
            data_dir,
            chroma,
        })
    }
}

impl StoreSettings {
    /// The store for messages, before it is opened: `embedded (<dir>)` or `chromadb (<url>)`.
    pub fn describe(&self) -> String {
        match (self.kind, &self.chroma) {
            (StoreKind::ChromaDb, Some(c)) => format!("chromadb ({})", c.url),
            (StoreKind::ChromaDb, None) => "chromadb (CHROMADB_HOST not set)".to_string(),
            (StoreKind::Embedded, _) => format!(
                "embedded ({})",
                self.data_dir.join(sqlite::FILE_NAME).display()
            ),
        }
    }
}

/// Opens the chosen backend with `embedder`.
pub fn open_store(
    settings: &StoreSettings,
    embedder: Arc<dyn Embedder>,
) -> Result<Arc<dyn KnowledgeStore>, StoreError> {
    match settings.kind {
        StoreKind::Embedded => Ok(Arc::new(SqliteStore::open(&settings.data_dir, embedder)?)),
        StoreKind::ChromaDb => {
            let config = settings.chroma.clone().ok_or_else(|| StoreError::Backend {
                backend: "chromadb".into(),
                operation: "read its settings".into(),
                message: "--store chromadb needs CHROMADB_HOST (and CHROMADB_PORT unless 8000)"
                    .into(),
            })?;
            Ok(Arc::new(ChromaStore::new(config, embedder)?))
        }
    }
}

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An error with its causes, `outer: inner: innermost` (reqwest hides the useful part, such
/// as "Connection refused", in the source chain).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_follows_flag_then_chromadb_host_then_embedded() {
        let none = |_: &str| None;
        let s = StoreSettings::from_vars(None, Some(Path::new("/d")), none).unwrap();
        assert_eq!(s.kind, StoreKind::Embedded);
        assert_eq!(s.data_dir, PathBuf::from("/d"));
        let host = |k: &str| (k == "CHROMADB_HOST").then(|| "chroma".to_string());
        let s = StoreSettings::from_vars(None, Some(Path::new("/d")), host).unwrap();
        assert_eq!(s.kind, StoreKind::ChromaDb);
        let s = StoreSettings::from_vars(Some(StoreKind::Embedded), Some(Path::new("/d")), host)
            .unwrap();
        assert_eq!(s.kind, StoreKind::Embedded);
    }

    #[test]
    fn the_data_folder_follows_flag_then_variable() {
        let var = |k: &str| (k == "PIPEWRIGHT_DATA_DIR").then(|| "/from-env".to_string());
        let s = StoreSettings::from_vars(None, None, var).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/from-env"));
        let s = StoreSettings::from_vars(None, Some(Path::new("/flag")), var).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/flag"));
    }

    #[test]
    fn a_store_that_cannot_be_opened_leaves_generation_to_the_built_in_generator() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(sqlite::FILE_NAME), "x".repeat(4096)).unwrap();
        let s = StoreSettings::from_vars(None, Some(dir.path()), |_| None).unwrap();
        let err = open_store(
            &s,
            Arc::new(pipewright_core::knowledge::BuiltinEmbedder::default()),
        )
        .err()
        .unwrap();
        let r = pipewright_core::knowledge::Retrieval::store_failed(&s.describe(), &err);
        assert_eq!(r.rank, pipewright_core::knowledge::RetrievalRank::BuiltIn);
        assert!(
            r.warnings[0].contains("knowledge.sqlite3"),
            "{:?}",
            r.warnings
        );
        assert!(
            r.warnings[0].contains("not a usable SQLite database"),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn chromadb_without_a_host_is_a_clear_error() {
        let s =
            StoreSettings::from_vars(Some(StoreKind::ChromaDb), Some(Path::new("/d")), |_| None)
                .unwrap();
        let err = open_store(
            &s,
            Arc::new(pipewright_core::knowledge::BuiltinEmbedder::default()),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("CHROMADB_HOST"), "{err}");
    }
}
