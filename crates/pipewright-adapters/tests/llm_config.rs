//! Choosing and configuring the provider from the seed's environment variables.

use pipewright_adapters::llm::{
    LlmConfig, LlmConfigError, OllamaConfig, ProviderConfig, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
};
use pipewright_core::llm::ProviderKind;
use std::collections::HashMap;
use std::time::Duration;

fn config(vars: &[(&str, &str)]) -> Result<LlmConfig, LlmConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LlmConfig::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn the_seed_default_is_a_local_ollama_with_the_seed_model() {
    let c = config(&[]).unwrap();
    assert_eq!(c.provider, ProviderConfig::Ollama(OllamaConfig::default()));
    let ProviderConfig::Ollama(ollama) = &c.provider else {
        unreachable!()
    };
    assert_eq!(ollama.host, "http://localhost:11434");
    assert_eq!(ollama.model, "pipeline-generator-v5");
    assert_eq!(ollama.num_ctx, 16384);
    assert_eq!(c.limits.timeout, DEFAULT_TIMEOUT);
    assert_eq!(c.limits.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(c.limits.connect_timeout, Duration::from_secs(2));
    assert_eq!(c.limits.retry.max_retries, 2);
    assert!((c.temperature - 0.2).abs() < 1e-6);
}

#[test]
fn none_builds_no_provider() {
    let c = config(&[("LLM_PROVIDER", "none")]).unwrap();
    assert_eq!(c.provider, ProviderConfig::None);
    assert!(c.build().unwrap().is_none());
}

#[test]
fn each_provider_is_chosen_by_name_and_builds() {
    let cases: &[(&[(&str, &str)], ProviderKind)] = &[
        (&[("LLM_PROVIDER", "ollama")], ProviderKind::Ollama),
        (
            &[("LLM_PROVIDER", "openai"), ("OPENAI_API_KEY", "sk-x")],
            ProviderKind::OpenAi,
        ),
        (
            &[("LLM_PROVIDER", "Anthropic"), ("ANTHROPIC_API_KEY", "k")],
            ProviderKind::Anthropic,
        ),
        (&[("LLM_PROVIDER", "claude-code")], ProviderKind::ClaudeCode),
    ];
    for (vars, kind) in cases {
        let provider = config(vars).unwrap().build().unwrap().unwrap();
        assert_eq!(provider.kind(), *kind);
    }
}

#[test]
fn the_variables_of_the_chosen_provider_are_read() {
    let c = config(&[
        ("OLLAMA_HOST", "gpu-box"),
        ("OLLAMA_MODEL", "qwen3:32b"),
        ("OLLAMA_NUM_CTX", "32768"),
        ("LLM_TEMPERATURE", "0.1"),
        ("LLM_TIMEOUT_SECS", "600"),
        ("LLM_MAX_RETRIES", "0"),
    ])
    .unwrap();
    let ProviderConfig::Ollama(ollama) = &c.provider else {
        panic!("{:?}", c.provider)
    };
    assert_eq!(ollama.host, "http://gpu-box:11434");
    assert_eq!(ollama.model, "qwen3:32b");
    assert_eq!(ollama.num_ctx, 32768);
    assert_eq!(c.limits.timeout, Duration::from_secs(600));
    assert_eq!(c.limits.retry.max_retries, 0);
    assert!((c.request("s".into(), "u".into()).temperature - 0.1).abs() < 1e-6);

    let c = config(&[
        ("LLM_PROVIDER", "openai"),
        ("OPENAI_BASE_URL", "http://vllm:8000/v1"),
        ("OPENAI_MODEL", "Qwen/Qwen2.5-Coder-32B-Instruct"),
    ])
    .unwrap();
    let ProviderConfig::OpenAi(openai) = &c.provider else {
        panic!("{:?}", c.provider)
    };
    assert_eq!(openai.base_url, "http://vllm:8000/v1");
    assert!(openai.api_key.is_none(), "a local server needs no key");
}

#[test]
fn a_stray_value_for_another_provider_does_not_matter() {
    let c = config(&[("LLM_PROVIDER", "none"), ("OLLAMA_NUM_CTX", "lots")]);
    assert!(c.is_ok());
}

#[test]
fn mistakes_are_named_with_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("LLM_PROVIDER", "gemini")], "LLM_PROVIDER=`gemini`"),
        (&[("OLLAMA_NUM_CTX", "lots")], "OLLAMA_NUM_CTX=`lots`"),
        (&[("OLLAMA_HOST", "ftp://x")], "OLLAMA_HOST"),
        (&[("LLM_TEMPERATURE", "hot")], "LLM_TEMPERATURE"),
        (&[("LLM_TEMPERATURE", "3")], "LLM_TEMPERATURE"),
        (&[("LLM_TIMEOUT_SECS", "0")], "LLM_TIMEOUT_SECS"),
        (&[("LLM_MAX_RETRIES", "99")], "LLM_MAX_RETRIES"),
        (&[("LLM_PROVIDER", "openai")], "OPENAI_API_KEY is not set"),
        (
            &[("LLM_PROVIDER", "anthropic")],
            "ANTHROPIC_API_KEY is not set",
        ),
        (
            &[
                ("LLM_PROVIDER", "anthropic"),
                ("ANTHROPIC_API_KEY", "sk-ant key"),
            ],
            "ANTHROPIC_API_KEY=`(hidden)` is not a key of printable ASCII",
        ),
        (
            &[
                ("LLM_PROVIDER", "claude-code"),
                ("CLAUDE_CODE_COMMAND", "claude 'open"),
            ],
            "CLAUDE_CODE_COMMAND",
        ),
    ];
    for (vars, expected) in cases {
        let err = config(vars).unwrap_err().to_string();
        assert!(err.contains(expected), "{vars:?}: {err}");
    }
}

#[test]
fn keys_and_url_passwords_stay_out_of_debug_and_errors() {
    let c = config(&[
        ("LLM_PROVIDER", "anthropic"),
        ("ANTHROPIC_API_KEY", "sk-ant-very-secret-key"),
    ])
    .unwrap();
    let shown = format!("{c:?} {:?}", c.build().unwrap().unwrap());
    assert!(!shown.contains("very-secret"), "{shown}");

    let err = config(&[("OLLAMA_HOST", "ftp://user:hunter2@host")]).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let c = config(&[("OLLAMA_HOST", "http://user:hunter2@ollama.internal:11434")]).unwrap();
    let provider = c.build().unwrap().unwrap();
    assert_eq!(provider.endpoint(), "http://ollama.internal:11434");
}

#[test]
fn empty_values_count_as_unset() {
    let c = config(&[("LLM_PROVIDER", ""), ("OLLAMA_MODEL", "  ")]).unwrap();
    assert_eq!(c.provider, ProviderConfig::Ollama(OllamaConfig::default()));
}
