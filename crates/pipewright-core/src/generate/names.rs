//! Service names in job and image names, unique by construction.
//!
//! A monorepo's jobs are named `<job>:<slug>` and its images `<repo>-<slug>`, where the slug
//! comes from the service's whole path: its last folder when that is unique, more folders
//! from the end when two services end alike (`apps/api` and `legacy/api` →
//! `apps-api`, `legacy-api`), and a short digest of the raw path when even whole paths
//! normalise alike (`Api` and `api`, `my-api` and `my api`, two emoji folders). The set is
//! checked for collisions after every step, so the answer never holds a name twice.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The longest slug; longer paths keep their end and a digest (GitLab allows 255 characters
/// per job name, registries 128 per path component).
pub const MAX_SLUG: usize = 63;

/// Lowercase, `[a-z0-9._-]` only, as registries require; `app` when nothing is left.
pub fn sanitize(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(|c| matches!(c, '.' | '_' | '-')).to_string();
    if s.is_empty() {
        "app".to_string()
    } else {
        s
    }
}

/// One slug per service path (`.` or `""` is the root, named `app`), in the same order, no
/// two alike.
pub fn service_slugs(paths: &[&str]) -> Vec<String> {
    let segments: Vec<Vec<String>> = paths
        .iter()
        .map(|p| {
            let parts: Vec<String> = p
                .split('/')
                .filter(|s| !s.is_empty() && *s != ".")
                .map(sanitize)
                .collect();
            if parts.is_empty() {
                vec!["app".to_string()]
            } else {
                parts
            }
        })
        .collect();
    // How many folders from the end each slug uses; grown only for the services that collide.
    let mut depth = vec![1usize; paths.len()];
    let slug_of = |i: usize, depth: &[usize]| {
        let parts = &segments[i];
        parts[parts.len() - depth[i].min(parts.len())..].join("-")
    };
    loop {
        let slugs: Vec<String> = (0..paths.len()).map(|i| slug_of(i, &depth)).collect();
        let mut grown = false;
        for group in collisions(&slugs) {
            for i in group {
                if depth[i] < segments[i].len() {
                    depth[i] += 1;
                    grown = true;
                }
            }
        }
        if !grown {
            break;
        }
    }
    let mut slugs: Vec<String> = (0..paths.len())
        .map(|i| shorten(&slug_of(i, &depth), paths[i]))
        .collect();
    // Whole paths that still normalise alike differ in their raw bytes: a digest of those
    // tells them apart. The counter only guards against a digest prefix colliding too.
    for round in 0u32.. {
        let groups = collisions(&slugs);
        if groups.is_empty() {
            break;
        }
        for group in groups {
            for i in group {
                let tag = digest(paths[i], round);
                let base = slug_of(i, &depth);
                let keep = MAX_SLUG.saturating_sub(tag.len() + 1);
                slugs[i] = format!("{}-{tag}", tail(&base, keep));
            }
        }
    }
    slugs
}

/// The indices of every group of equal slugs.
fn collisions(slugs: &[String]) -> Vec<Vec<usize>> {
    let mut seen: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in slugs.iter().enumerate() {
        seen.entry(s.as_str()).or_default().push(i);
    }
    seen.into_values().filter(|g| g.len() > 1).collect()
}

fn shorten(slug: &str, raw: &str) -> String {
    if slug.len() <= MAX_SLUG {
        return slug.to_string();
    }
    let tag = digest(raw, 0);
    format!("{}-{tag}", tail(slug, MAX_SLUG - tag.len() - 1))
}

/// The last `n` bytes of an ASCII slug, without a leading separator.
fn tail(slug: &str, n: usize) -> &str {
    let start = slug.len().saturating_sub(n);
    slug[start..].trim_start_matches(['-', '.', '_'])
}

fn digest(raw: &str, round: u32) -> String {
    let mut h = Sha256::new();
    h.update(raw.as_bytes());
    if round > 0 {
        h.update(round.to_le_bytes());
    }
    h.finalize()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unique(slugs: &[String]) -> bool {
        let mut s = slugs.to_vec();
        s.sort();
        s.dedup();
        s.len() == slugs.len()
    }

    #[test]
    fn last_folder_when_unique() {
        assert_eq!(
            service_slugs(&["services/api", "services/web"]),
            ["api", "web"]
        );
        assert_eq!(service_slugs(&["."]), ["app"]);
    }

    #[test]
    fn folders_that_end_alike_take_more_of_the_path() {
        assert_eq!(
            service_slugs(&["apps/api", "legacy/api", "web"]),
            ["apps-api", "legacy-api", "web"]
        );
    }

    #[test]
    fn names_alike_after_normalising_get_a_digest() {
        let paths = ["Api", "api", "my-api", "my api", "🚀", "🛸", ".", "app"];
        let slugs = service_slugs(&paths);
        assert!(unique(&slugs), "{slugs:?}");
        for s in &slugs {
            assert!(s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c)));
        }
        // Same input, same names.
        assert_eq!(slugs, service_slugs(&paths));
    }

    #[test]
    fn long_paths_are_bounded_and_still_unique() {
        let a = format!("{}/x", "a".repeat(200));
        let b = format!("{}/x", "b".repeat(200));
        let slugs = service_slugs(&[&a, &b]);
        assert!(unique(&slugs));
        assert!(slugs.iter().all(|s| s.len() <= MAX_SLUG), "{slugs:?}");
    }
}
