//! A scripted model shared by the path and workflow tests: an in-process `LlmProvider` that
//! answers what the script says, one answer per call (the last one repeats), and records the
//! prompts it got.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use async_trait::async_trait;
use pipewright_core::llm::error::{LlmError, ProviderKind};
use pipewright_core::llm::{LlmAnswer, LlmProvider, LlmRequest};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A model that answers from a script, one answer per call (the last one repeats).
#[derive(Debug)]
pub struct ScriptedModel {
    pub answers: Vec<Result<String, LlmError>>,
    pub prompts: Mutex<Vec<String>>,
}

#[async_trait]
impl LlmProvider for ScriptedModel {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Ollama
    }
    fn model(&self) -> &str {
        "scripted"
    }
    fn endpoint(&self) -> &str {
        "memory"
    }
    async fn complete(&self, request: &LlmRequest) -> Result<LlmAnswer, LlmError> {
        let n = {
            let mut prompts = self.prompts.lock().expect("lock");
            prompts.push(request.user.clone());
            prompts.len() - 1
        };
        let answer = self
            .answers
            .get(n)
            .or(self.answers.last())
            .cloned()
            .expect("a scripted answer");
        answer.map(|text| LlmAnswer {
            text,
            model: "scripted".into(),
            usage: None,
            elapsed: Duration::ZERO,
        })
    }
}

pub fn model(answers: Vec<Result<String, LlmError>>) -> Arc<ScriptedModel> {
    Arc::new(ScriptedModel {
        answers,
        prompts: Mutex::new(Vec::new()),
    })
}

/// A model's answer carrying both files.
pub fn answer_json(ci: &str, dockerfile: &str) -> String {
    serde_json::json!({ "gitlab_ci": ci, "dockerfile": dockerfile, "notes": ["scripted"] })
        .to_string()
}
