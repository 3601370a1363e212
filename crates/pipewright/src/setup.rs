//! Opening the configured knowledge store and LLM, shared by the CLI and the service. A store
//! or model that cannot be opened is returned as a reason, never a panic: the generation
//! paths turn it into a warning and the built-in generator. Also the flags that choose them
//! ([`BackendArgs`]) and the async runtime.

use clap::Args;
use pipewright_adapters::embed::embedder_from_vars;
use pipewright_adapters::llm::LlmConfig;
use pipewright_adapters::runs::SqliteRunStore;
use pipewright_adapters::store::{open_store, StoreKind, StoreSettings};
use pipewright_core::knowledge::KnowledgeStore;
use pipewright_core::knowledge::StoreError;
use pipewright_core::llm::LlmProvider;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The flags that choose the knowledge store and the LLM (`generate`, `serve`).
#[derive(Debug, Clone, Default, Args)]
pub struct BackendArgs {
    /// LLM provider: ollama, openai, anthropic, claude-code, none [default: $LLM_PROVIDER, else none: the built-in generator].
    #[arg(long, value_name = "PROVIDER")]
    pub llm: Option<String>,
    /// The model name for the chosen provider (overrides OLLAMA_MODEL / OPENAI_MODEL / ANTHROPIC_MODEL).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Folder of the embedded knowledge store [default: $PIPEWRIGHT_DATA_DIR, else the platform's data folder].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Knowledge store: `embedded` or `chromadb` [default: chromadb when CHROMADB_HOST is set].
    #[arg(long, env = "PIPEWRIGHT_STORE", value_name = "KIND")]
    pub store: Option<StoreKind>,
}

impl BackendArgs {
    /// The knowledge store these flags (else the environment) choose.
    pub fn open_store(&self) -> Result<Arc<dyn KnowledgeStore>, StoreError> {
        store(self.store, self.data_dir.as_deref())
    }

    /// The knowledge store for a run that must leave nothing behind (`generate --dry-run`):
    /// the embedded store is opened only when its file already exists, so a dry run never
    /// creates the data folder or the SQLite file. A missing store is a reason, as when it
    /// cannot be opened: the generation paths then use the built-in generator.
    pub fn open_store_if_present(&self) -> Result<Arc<dyn KnowledgeStore>, String> {
        let settings = StoreSettings::from_env(self.store, self.data_dir.as_deref())
            .map_err(|e| e.to_string())?;
        if settings.kind == StoreKind::Embedded {
            let file = settings
                .data_dir
                .join(pipewright_adapters::store::sqlite::FILE_NAME);
            if !file.is_file() {
                return Err(format!(
                    "no knowledge store at {} yet, and a dry run creates none",
                    file.display()
                ));
            }
        }
        self.open_store().map_err(|e| e.to_string())
    }

    /// The run store in the data folder these flags (else the environment) choose (runs and
    /// monitor tasks share its file).
    pub fn open_sqlite_runs(&self) -> Result<SqliteRunStore, String> {
        let settings = StoreSettings::from_env(self.store, self.data_dir.as_deref())
            .map_err(|e| e.to_string())?;
        SqliteRunStore::open(&settings.data_dir).map_err(|e| e.to_string())
    }

    /// The LLM these flags (else the environment) choose, and its temperature.
    pub fn open_llm(&self) -> (Result<Arc<dyn LlmProvider>, String>, f32) {
        llm(self.llm.clone(), self.model.clone())
    }
}

/// The async runtime: one thread for a command, a pool for the service. `None` (after saying
/// why on stderr) when the system refuses it.
pub fn runtime(multi_thread: bool) -> Option<tokio::runtime::Runtime> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    match builder.enable_all().build() {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Opens the knowledge store chosen by `kind` (else the environment) in `data_dir`.
pub fn store(
    kind: Option<StoreKind>,
    data_dir: Option<&Path>,
) -> Result<Arc<dyn KnowledgeStore>, StoreError> {
    let settings = StoreSettings::from_env(kind, data_dir)?;
    let embedder = embedder_from_vars(|k| std::env::var(k).ok()).map_err(StoreError::from)?;
    open_store(&settings, embedder)
}

/// The LLM chosen by `provider` (else `LLM_PROVIDER`, else `none`: the embedded default is the built-in generator) with `model` overriding the
/// provider's model variable, and the temperature to use with it.
pub fn llm(
    provider: Option<String>,
    model: Option<String>,
) -> (Result<Arc<dyn LlmProvider>, String>, f32) {
    let lookup = move |name: &str| -> Option<String> {
        let chosen = provider
            .clone()
            .or_else(|| std::env::var("LLM_PROVIDER").ok())
            .unwrap_or_else(|| "none".into());
        if name == "LLM_PROVIDER" {
            return Some(chosen);
        }
        let model_var = match chosen.as_str() {
            "openai" => "OPENAI_MODEL",
            "anthropic" => "ANTHROPIC_MODEL",
            _ => "OLLAMA_MODEL",
        };
        if name == model_var {
            if let Some(m) = &model {
                return Some(m.clone());
            }
        }
        std::env::var(name).ok()
    };
    match LlmConfig::from_lookup(lookup) {
        Ok(config) => {
            let temperature = config.temperature;
            let llm = match config.build() {
                Ok(Some(llm)) => Ok(llm),
                Ok(None) => Err("LLM_PROVIDER=none".to_string()),
                Err(e) => Err(e.to_string()),
            };
            (llm, temperature)
        }
        Err(e) => (Err(e.to_string()), 0.2),
    }
}
