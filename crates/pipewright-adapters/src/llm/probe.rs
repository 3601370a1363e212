//! [`probe`]: a cheap check that the configured model can be reached, for health reports.
//! Nothing is sent to the model and no tokens are spent: an HTTP provider gets one TCP
//! connection to its endpoint's host and port, the `claude-code` command is looked up on
//! `PATH`.

use pipewright_core::llm::{LlmProvider, ProviderKind};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Checks that `provider` is reachable within `limit`; returns what was checked, or why it
/// failed. Neither text holds a credential (endpoints are shown without them).
pub async fn probe(provider: &dyn LlmProvider, limit: Duration) -> Result<String, String> {
    let endpoint = provider.endpoint();
    if provider.kind() == ProviderKind::ClaudeCode {
        return find_program(endpoint)
            .map(|found| format!("command {}", found.display()))
            .ok_or_else(|| format!("the command `{endpoint}` is not found on PATH"));
    }
    let url = reqwest::Url::parse(endpoint)
        .map_err(|e| format!("the endpoint `{endpoint}` is not a URL ({e})"))?;
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Err(format!("the endpoint `{endpoint}` names no host and port"));
    };
    match tokio::time::timeout(
        limit,
        tokio::net::TcpStream::connect(format!("{host}:{port}")),
    )
    .await
    {
        Ok(Ok(_)) => Ok(format!("{endpoint} accepts connections")),
        Ok(Err(e)) => Err(format!("{endpoint} cannot be reached: {e}")),
        Err(_) => Err(format!(
            "{endpoint} did not accept a connection within {} ms",
            limit.as_millis()
        )),
    }
}

/// The program as given when it holds a `/`, else the first match on `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| Path::is_file(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_on_path_or_by_their_path() {
        assert!(find_program("sh").is_some());
        assert!(find_program("/bin/sh").is_some());
        assert!(find_program("pipewright-no-such-program").is_none());
        assert!(find_program("/no/such/program").is_none());
    }
}
