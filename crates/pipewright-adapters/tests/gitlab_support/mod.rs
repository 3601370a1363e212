//! Set-up shared by the GitLab tests: a fake GitLab on a free port and a client pointed at it
//! with short waits, so retries cost milliseconds.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use pipewright_adapters::fake_gitlab::{FakeGitLab, FAKE_TOKEN};
use pipewright_adapters::gitlab::{GitLabClient, GitLabConfig};

/// A Python web service, with files the analyzer reads and files it does not.
pub const PYTHON_SERVICE: &[(&str, &str)] = &[
    ("README.md", "# api\n"),
    ("requirements.txt", "fastapi==0.110.0\nuvicorn==0.29.0\n"),
    (".python-version", "3.12.3\n"),
    (
        "app/main.py",
        "from fastapi import FastAPI\napp = FastAPI()\n",
    ),
    ("app/routes/items.py", "def items():\n    return []\n"),
    ("app/routes/users.py", "def users():\n    return []\n"),
    ("tests/test_main.py", "def test_ok():\n    assert True\n"),
    ("docs/index.md", "docs\n"),
    (
        "node_modules/left-pad/package.json",
        "{\"name\":\"left-pad\"}\n",
    ),
];

pub async fn spawn() -> FakeGitLab {
    FakeGitLab::start()
        .await
        .expect("the fake GitLab binds a port on 127.0.0.1")
}

pub fn config(gitlab: &FakeGitLab) -> GitLabConfig {
    gitlab.client_config(FAKE_TOKEN)
}

pub fn client(gitlab: &FakeGitLab) -> GitLabClient {
    GitLabClient::new(config(gitlab)).expect("the test configuration is valid")
}

pub fn client_with(gitlab: &FakeGitLab, change: impl FnOnce(&mut GitLabConfig)) -> GitLabClient {
    let mut config = config(gitlab);
    change(&mut config);
    GitLabClient::new(config).expect("the test configuration is valid")
}
