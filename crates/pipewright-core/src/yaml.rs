//! Safe YAML reading for untrusted files: size and alias-expansion limits, GitLab's
//! `!reference` tag kept as `{"!reference": [...]}`, `<<` merge keys applied, and the result
//! as a `serde_json::Value` (key order kept) that the rest of the core works with.
//!
//! Built on `saphyr`, which refuses alias bombs within a node budget instead of expanding them.
//!
//! ```
//! let v = pipewright_core::yaml::to_json(".base: &b {image: ruby}\njob:\n  <<: *b\n  script: [x]\n").unwrap();
//! assert_eq!(v["job"]["image"], "ruby");
//! ```

use saphyr::{LoadableYamlNode, Scalar, ScalarStyle, Yaml};
use serde_json::{Map, Value};

/// Inputs larger than this are refused before parsing.
pub const MAX_YAML_BYTES: usize = 4 * 1024 * 1024;
/// Nesting deeper than this is refused (a stack-exhaustion guard).
pub const MAX_DEPTH: usize = 128;

/// Why a YAML text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error("the file is {size} bytes, more than the {limit}-byte limit for YAML")]
    TooLarge { size: usize, limit: usize },
    #[error("YAML syntax error at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the YAML nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the file holds no YAML document")]
    Empty,
}

/// Parses the first document of `text` into JSON.
pub fn to_json(text: &str) -> Result<Value, YamlError> {
    if text.len() > MAX_YAML_BYTES {
        return Err(YamlError::TooLarge {
            size: text.len(),
            limit: MAX_YAML_BYTES,
        });
    }
    let docs = Yaml::load_from_str(text).map_err(|e| YamlError::Syntax {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    let doc = docs.into_iter().next().ok_or(YamlError::Empty)?;
    convert(&doc, 0)
}

fn convert(node: &Yaml<'_>, depth: usize) -> Result<Value, YamlError> {
    if depth > MAX_DEPTH {
        return Err(YamlError::TooDeep);
    }
    Ok(match node {
        Yaml::Value(s) => scalar(s),
        Yaml::Representation(text, style, _) => {
            if *style == ScalarStyle::Plain {
                match Yaml::value_from_str(text) {
                    Yaml::Value(s) => scalar(&s),
                    _ => Value::String(text.to_string()),
                }
            } else {
                Value::String(text.to_string())
            }
        }
        Yaml::Sequence(items) => Value::Array(
            items
                .iter()
                .map(|i| convert(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            let mut merged: Vec<Map<String, Value>> = Vec::new();
            for (k, v) in map {
                let key = key_string(k);
                if key == "<<" {
                    match convert(v, depth + 1)? {
                        Value::Object(m) => merged.push(m),
                        Value::Array(list) => {
                            merged.extend(list.into_iter().filter_map(|x| match x {
                                Value::Object(m) => Some(m),
                                _ => None,
                            }))
                        }
                        _ => {}
                    }
                    continue;
                }
                out.insert(key, convert(v, depth + 1)?);
            }
            // Explicit keys win over merged ones; earlier merge sources win over later ones.
            for m in merged {
                for (k, v) in m {
                    out.entry(k).or_insert(v);
                }
            }
            Value::Object(out)
        }
        Yaml::Tagged(tag, inner) => {
            let value = convert(inner, depth + 1)?;
            if tag.handle == "!" && tag.suffix == "reference" {
                let mut m = Map::new();
                m.insert("!reference".to_string(), value);
                Value::Object(m)
            } else {
                value
            }
        }
        Yaml::Alias(_) | Yaml::BadValue => Value::Null,
    })
}

/// A YAML scalar as JSON (a float JSON cannot hold becomes null); shared with the
/// validator's positioned reader.
pub(crate) fn scalar(s: &Scalar<'_>) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::from(*i),
        Scalar::FloatingPoint(f) => serde_json::Number::from_f64(f.into_inner())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

fn key_string(k: &Yaml<'_>) -> String {
    match convert(k, MAX_DEPTH) {
        Ok(Value::String(s)) => s,
        Ok(Value::Null) => "null".to_string(),
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_tags_are_kept() {
        let v = to_json("a:\n  script: !reference [.setup, script]\n").unwrap();
        assert_eq!(v["a"]["script"]["!reference"][0], ".setup");
    }

    #[test]
    fn alias_bomb_is_refused_quickly() {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut prev = "a";
        for n in names {
            text.push_str(&format!("{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = n;
        }
        let started = std::time::Instant::now();
        assert!(to_json(&text).is_err());
        assert!(started.elapsed().as_secs() < 2);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = to_json("a: [1, 2\nb: c\n").unwrap_err();
        assert!(matches!(err, YamlError::Syntax { line: 2.., .. }), "{err}");
    }
}
