//! The explanation of a generation, one structured entry per decision: which service it is
//! about (none for the whole pipeline), its topic, and the sentence. `generate --json` and the
//! API carry these entries as `{service, topic, text}` (schemas/generate.schema.json); the
//! terminal and commit messages print [`Explanation`]'s `Display` (`[service] text`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a decision is about. The serialized names are part of the `generate --json` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Topic {
    /// The runtime version chosen for the images, and from what.
    Runtime,
    /// Whether and how an image is built: pipewright's Dockerfile, the repository's own, or none.
    Image,
    /// The ecosystem's install, compile, test and lint steps.
    Recipe,
    /// The jobs: where the tests run, the services they start, what they need.
    Jobs,
    /// Package mirrors passed to every job and image build.
    Mirrors,
    /// Stages left out of the pipeline.
    Stages,
    /// How the files were produced: the built-in generator, a stored pair, an LLM.
    Path,
    /// A note from the LLM that wrote or adapted the files.
    Model,
    /// A setting (tool image, mirror) the repository's own `pipewright.toml` chose.
    Settings,
}

impl Topic {
    pub const ALL: &'static [Topic] = &[
        Topic::Runtime,
        Topic::Image,
        Topic::Recipe,
        Topic::Jobs,
        Topic::Mirrors,
        Topic::Stages,
        Topic::Path,
        Topic::Model,
        Topic::Settings,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Runtime => "runtime",
            Topic::Image => "image",
            Topic::Recipe => "recipe",
            Topic::Jobs => "jobs",
            Topic::Mirrors => "mirrors",
            Topic::Stages => "stages",
            Topic::Path => "path",
            Topic::Model => "model",
            Topic::Settings => "settings",
        }
    }
}

/// One decision of the generation and why it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explanation {
    /// The service folder (`.` for the root) the decision is about; `None` for the whole pipeline.
    pub service: Option<String>,
    pub topic: Topic,
    pub text: String,
}

impl Explanation {
    /// A decision about one service (its folder, `.` for the root).
    pub fn service(path: &str, topic: Topic, text: impl Into<String>) -> Self {
        Explanation {
            service: Some(path.to_string()),
            topic,
            text: text.into(),
        }
    }

    /// A decision about the whole pipeline.
    pub fn pipeline(topic: Topic, text: impl Into<String>) -> Self {
        Explanation {
            service: None,
            topic,
            text: text.into(),
        }
    }
}

/// `[service] text` for a service in a folder, the bare text for the root and the pipeline.
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.service.as_deref() {
            Some(path) if path != "." => write!(f, "[{path}] {}", self.text),
            _ => f.write_str(&self.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_service_topic_text_and_prints_the_folder_as_a_label() {
        let e = Explanation::service("api", Topic::Runtime, "python 3.12 from .python-version");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"service": "api", "topic": "runtime", "text": "python 3.12 from .python-version"})
        );
        assert_eq!(e.to_string(), "[api] python 3.12 from .python-version");
        let root = Explanation::service(".", Topic::Image, "kept the Dockerfile");
        assert_eq!(root.to_string(), "kept the Dockerfile");
        let all = Explanation::pipeline(Topic::Stages, "left out sast");
        assert_eq!(
            serde_json::to_value(&all).unwrap()["service"],
            serde_json::Value::Null
        );
        for t in Topic::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
