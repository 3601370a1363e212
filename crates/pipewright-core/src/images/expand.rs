//! Variable expansion as GitLab and Docker do it for image names: `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, and `$$` for a literal `$`. A variable nobody defines
//! is reported, never replaced by a guess.

use std::collections::BTreeMap;

/// Variables by name.
pub type Variables = BTreeMap<String, String>;

/// Expands `text` with `vars`, recursively (a value may name another variable, up to a depth
/// of 8). Returns the missing variable names when any is undefined.
pub fn expand(text: &str, vars: &Variables) -> Result<String, Vec<String>> {
    let mut missing = Vec::new();
    let out = expand_depth(text, vars, 0, &mut missing);
    if missing.is_empty() {
        Ok(out)
    } else {
        missing.sort();
        missing.dedup();
        Err(missing)
    }
}

fn expand_depth(text: &str, vars: &Variables, depth: usize, missing: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (name, default, consumed) = if let Some(body) = after.strip_prefix('{') {
            match body.find('}') {
                Some(end) => {
                    let inner = &body[..end];
                    let (name, default) = match inner.find(['-', ':']) {
                        Some(p) => {
                            let d = inner[p..]
                                .strip_prefix(":-")
                                .or_else(|| inner[p..].strip_prefix('-'));
                            (&inner[..p], d)
                        }
                        None => (inner, None),
                    };
                    (name, default, end + 2)
                }
                None => {
                    out.push('$');
                    rest = after;
                    continue;
                }
            }
        } else {
            let len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            (&after[..len], None, len)
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        match vars.get(name).filter(|v| !v.is_empty()) {
            Some(v) if depth < 8 => out.push_str(&expand_depth(v, vars, depth + 1, missing)),
            Some(v) => out.push_str(v),
            None => match default {
                Some(d) => out.push_str(&expand_depth(d, vars, depth + 1, missing)),
                None => {
                    missing.push(name.to_string());
                    out.push('$');
                    out.push_str(name);
                }
            },
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_braced_and_default_forms() {
        let v = vars(&[("REG", "nexus:5001"), ("TAG", "3.12")]);
        assert_eq!(
            expand("$REG/apm/python:${TAG}-slim", &v).unwrap(),
            "nexus:5001/apm/python:3.12-slim"
        );
        assert_eq!(expand("${NOPE:-x}/${REG-y}", &v).unwrap(), "x/nexus:5001");
        assert_eq!(expand("a$$b", &v).unwrap(), "a$b");
    }

    #[test]
    fn values_may_name_other_variables() {
        let v = vars(&[("A", "$B/x"), ("B", "host")]);
        assert_eq!(expand("$A", &v).unwrap(), "host/x");
    }

    #[test]
    fn undefined_variables_are_reported_not_guessed() {
        let v = vars(&[("REG", "n")]);
        assert_eq!(
            expand("$REG/$IMG:${TAG}", &v).unwrap_err(),
            vec!["IMG".to_string(), "TAG".to_string()]
        );
    }

    #[test]
    fn self_reference_stops() {
        let v = vars(&[("A", "$A")]);
        assert!(expand("$A", &v).is_ok());
    }
}
