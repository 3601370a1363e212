//! Secrets out of URLs: the one function every URL passes before it is shown (an error
//! message, a log line, a CLI message) or stored (a run record). [`redact_url`] hides the
//! password or token in the userinfo (even one holding `/` or `@`), the value of every query
//! parameter whose name says it carries a credential (`private_token`, `access_token`,
//! `token`, `X-Amz-Signature` …), and the whole fragment (OAuth answers put tokens there).
//! [`redact_urls_in`] does the same to every URL inside a longer text, such as git's stderr.
//!
//! ```
//! use pipewright_core::redact::redact_url;
//! assert_eq!(
//!     redact_url("https://u:p/w@gitlab.example.com/g/p?private_token=glpat-x&ref=main#t=1"),
//!     "https://u:***@gitlab.example.com/g/p?private_token=***&ref=main#***"
//! );
//! ```

/// What replaces a secret.
pub const MASK: &str = "***";

/// Query parameter names that carry a credential, compared without case and with `-` read as
/// `_`. A name that merely contains one of [`SECRET_NAME_PARTS`] is a credential too.
const SECRET_QUERY_NAMES: &[&str] = &[
    "private_token",
    "access_token",
    "refresh_token",
    "id_token",
    "job_token",
    "token",
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "key",
    "auth",
    "authorization",
    "code",
    "sig",
    "signature",
    "credential",
    "x_amz_signature",
    "x_amz_credential",
    "x_amz_security_token",
    "x_goog_signature",
    "x_goog_credential",
    "session",
    "sessionid",
];

/// Parts of a parameter name that make it a credential wherever they appear.
const SECRET_NAME_PARTS: &[&str] = &[
    "token",
    "secret",
    "passw",
    "signature",
    "credential",
    "api_key",
    "apikey",
];

/// Whether a query parameter of this name carries a credential.
fn is_secret_name(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase().replace('-', "_");
    SECRET_QUERY_NAMES.contains(&name.as_str())
        || SECRET_NAME_PARTS.iter().any(|part| name.contains(part))
}

/// `url` with its userinfo secret, credential query values and fragment replaced by `***`.
/// Text that is not a `scheme://` URL is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let scheme = &url[..scheme_end];
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return url.to_string();
    }
    let rest = &url[scheme_end + 3..];
    // The fragment first: everything after the first `#` may be a token.
    let (rest, fragment) = match rest.find('#') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (before_query, query) = match rest.find('?') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    out.push_str("://");
    out.push_str(&redact_authority(before_query));
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_query(query));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        if !fragment.is_empty() {
            out.push_str(MASK);
        }
    }
    out
}

/// The part between `://` and the query: `[user[:secret]@]host[:port][/path]`. A secret may
/// hold `/` or `@` unencoded, so when the first path-free part looks like `user:secret`
/// rather than `host:port`, the userinfo runs to the last `@`.
fn redact_authority(text: &str) -> String {
    let first_part_end = text.find('/').unwrap_or(text.len());
    let first_part = &text[..first_part_end];
    let userinfo_end = if first_part.contains('@') {
        first_part.rfind('@')
    } else {
        match first_part.split_once(':') {
            // `host:port` (or `host:` with nothing after it) is not a user and a secret.
            Some((_, after)) if !after.is_empty() && !after.chars().all(|c| c.is_ascii_digit()) => {
                text.rfind('@')
            }
            _ => None,
        }
    };
    let Some(at) = userinfo_end else {
        return text.to_string();
    };
    let userinfo = &text[..at];
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:{MASK}"),
        // A user alone is often the token itself (`https://<token>@host`).
        None => MASK.to_string(),
    };
    format!("{shown}{}", &text[at..])
}

/// `name=value` pairs separated by `&` (or `;`): credential values masked, the rest kept.
fn redact_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut start = 0;
    for (i, c) in query
        .char_indices()
        .chain(std::iter::once((query.len(), '&')))
    {
        if c != '&' && c != ';' {
            continue;
        }
        let pair = &query[start..i];
        match pair.split_once('=') {
            Some((name, value)) if is_secret_name(&percent_decoded(name)) && !value.is_empty() => {
                out.push_str(name);
                out.push('=');
                out.push_str(MASK);
            }
            _ => out.push_str(pair),
        }
        if i < query.len() {
            out.push(c);
        }
        start = i + c.len_utf8();
    }
    out
}

/// `%XX` escapes decoded (a name may be written `private%5Ftoken`); invalid ones kept.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every `scheme://…` URL inside `text` redacted with [`redact_url`]; a URL ends at
/// whitespace or at a quote or bracket that closes it.
pub fn redact_urls_in(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        // The scheme: the letters right before `://`.
        let scheme_start = rest[..sep]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(sep, |(i, _)| i);
        let end = rest[sep..]
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '\'' | '"' | '<' | '>' | '`' | ')' | ']')
            })
            .map_or(rest.len(), |i| sep + i);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact_url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_of_secret_is_hidden() {
        let cases = [
            // userinfo
            (
                "https://user:glpat-123@host/g/p.git",
                "https://user:***@host/g/p.git",
            ),
            ("https://oauth2@host/p", "https://***@host/p"),
            ("https://glpat-abc@host", "https://***@host"),
            ("https://user:pa/ss@host/g/p", "https://user:***@host/g/p"),
            (
                "https://user:a/b/c@host:8443/g/p",
                "https://user:***@host:8443/g/p",
            ),
            ("https://user:p@ss@host/g", "https://user:***@host/g"),
            ("https://user:pa%2Fss@host/g", "https://user:***@host/g"),
            ("ssh://git:secret@host:22/g/p", "ssh://git:***@host:22/g/p"),
            // query
            (
                "https://host/g/p?private_token=glpat-1",
                "https://host/g/p?private_token=***",
            ),
            (
                "https://host/p?ref=main&access_token=t0k",
                "https://host/p?ref=main&access_token=***",
            ),
            (
                "https://host/p?token=abc;ref=x",
                "https://host/p?token=***;ref=x",
            ),
            (
                "https://host/p?PRIVATE-TOKEN=abc",
                "https://host/p?PRIVATE-TOKEN=***",
            ),
            (
                "https://host/p?private%5Ftoken=abc",
                "https://host/p?private%5Ftoken=***",
            ),
            (
                "https://host/p?X-Amz-Signature=ff&X-Amz-Date=1",
                "https://host/p?X-Amz-Signature=***&X-Amz-Date=1",
            ),
            (
                "https://host/p?my_deploy_token=abc",
                "https://host/p?my_deploy_token=***",
            ),
            (
                "https://host/p?job_token=abc&page=2",
                "https://host/p?job_token=***&page=2",
            ),
            // fragment
            (
                "https://host/cb#access_token=abc&x=1",
                "https://host/cb#***",
            ),
            ("https://host/p#", "https://host/p#"),
            // all at once
            (
                "https://u:p/w@host/g/p?private_token=x&ref=main#t",
                "https://u:***@host/g/p?private_token=***&ref=main#***",
            ),
            // nothing to hide
            ("https://host/p", "https://host/p"),
            (
                "https://host:8443/g/p?ref=main&page=2",
                "https://host:8443/g/p?ref=main&page=2",
            ),
            (
                "https://host/-/tree/feature@x",
                "https://host/-/tree/feature@x",
            ),
            ("group/project", "group/project"),
            ("42", "42"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn no_secret_survives_in_any_shape() {
        for url in [
            "https://u:S3CR3T@h/p",
            "https://u:S3/CR3T@h/p",
            "https://S3CR3T@h/p",
            "https://h/p?private_token=S3CR3T",
            "https://h/p?a=1&access_token=S3CR3T&b=2",
            "https://h/p#S3CR3T",
            "https://h/p?token=S3CR3T#S3CR3T",
        ] {
            assert!(
                !redact_url(url).contains("S3CR3T"),
                "{url} → {}",
                redact_url(url)
            );
        }
    }

    #[test]
    fn urls_inside_text_are_redacted() {
        assert_eq!(
            redact_urls_in("fatal: unable to access 'https://u:tok/en@host/g.git/': 403"),
            "fatal: unable to access 'https://u:***@host/g.git/': 403"
        );
        assert_eq!(
            redact_urls_in("see https://h/p?private_token=x and http://h2/#frag."),
            "see https://h/p?private_token=*** and http://h2/#***"
        );
        assert_eq!(redact_urls_in("no url here"), "no url here");
    }
}
