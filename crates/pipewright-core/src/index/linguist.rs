//! Which files count toward a repository's language share, in the spirit of GitHub Linguist:
//! vendored, generated and documentation paths are left out, and so is anything that is not
//! code or markup. The rules are data (regex tables), applied by one function.

use regex::RegexSet;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::Input;
use std::cell::RefCell;
use std::sync::LazyLock;
use std::thread::LocalKey;

/// Why a file does not count toward the language share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exclusion {
    /// Third-party code kept in the tree (`node_modules/`, `vendor/`, `third_party/` …).
    Vendored,
    /// Written by a tool (lock files, minified bundles, protobuf stubs, `dist/`).
    Generated,
    /// Documentation, examples and samples.
    Documentation,
    /// Not a programming or markup language (data, prose, images …).
    NotCode,
    /// `linguist-detectable=false` in `.gitattributes`.
    NotDetectable,
}

/// Vendored folders (Linguist `vendor.yml`), matched against a folder path with a trailing `/`.
const VENDORED_DIRS: &[&str] = &[
    r"(^|/)node_modules/",
    r"(^|/)bower_components/",
    r"(^|/)vendors?/",
    r"(^|/)third[-_]?party/",
    r"(^|/)3rd[-_]?party/",
    r"(^|/)external/",
    r"(^|/)deps/",
    r"(^|/)_deps/",
    r"(^|/)cache/",
    r"(^|/)\.venv/",
    r"(^|/)venv/",
    r"(^|/)virtualenv/",
    r"(^|/)site-packages/",
    r"(^|/)__pycache__/",
    r"(^|/)\.bundle/",
    r"(^|/)Godeps/_workspace/",
    r"(^|/)Pods/",
    r"(^|/)Carthage/",
    r"(^|/)\.yarn/",
    r"(^|/)gradle/wrapper/",
    r"(^|/)\.mvn/wrapper/",
    r"(^|/)\.github/",
    r"(^|/)\.gitlab/",
];

/// Vendored files, matched against the file name.
const VENDORED_NAMES: &[&str] = &[
    r"^jquery([^.]*)\.js$",
    r"^bootstrap([^/.]*)(\.min)?\.(js|css)$",
    r"^gradlew(\.bat)?$",
    r"^mvnw(\.cmd)?$",
    r"^configure$",
    r"^config\.guess$",
    r"^config\.sub$",
];

/// Documentation folders (Linguist `documentation.yml`); `docs/` counts only at the top.
const DOCUMENTATION_DIRS: &[&str] = &[
    r"^[Dd]ocs?/",
    r"(^|/)[Dd]ocumentation/",
    r"(^|/)[Jj]avadoc/",
    r"^[Mm]an/",
    r"^[Ee]xamples?/",
    r"^[Ss]amples?/",
    r"^[Dd]emos?/",
];

/// Documentation files, matched against the file name.
const DOCUMENTATION_NAMES: &[&str] = &[
    r"^CHANGE(S|LOG)?(\.|$)",
    r"^CONTRIBUTING(\.|$)",
    r"^COPYING(\.|$)",
    r"^INSTALL(\.|$)",
    r"^LICEN[CS]E(\.|$)",
    r"^README(\.|$)",
    r"^[Rr]eadme(\.|$)",
];

/// Folders of generated output (Linguist `generated.rb`, by path).
const GENERATED_DIRS: &[&str] = &[
    r"(^|/)dist/",
    r"(^|/)build/generated/",
    r"(^|/)\.next/",
    r"(^|/)\.nuxt/",
    r"(^|/)coverage/",
    r"(^|/)target/",
    r"(^|/)obj/",
    r"(^|/)bin/(Debug|Release)/",
    r"(^|/)_build/",
];

/// Generated files (lock files, minified bundles, protobuf stubs), matched against the name.
const GENERATED_NAMES: &[&str] = &[
    r"\.min\.(js|css)$",
    r"\.map$",
    r"^package-lock\.json$",
    r"^npm-shrinkwrap\.json$",
    r"^yarn\.lock$",
    r"^pnpm-lock\.yaml$",
    r"^bun\.lockb?$",
    r"^composer\.lock$",
    r"^Gemfile\.lock$",
    r"^poetry\.lock$",
    r"^Pipfile\.lock$",
    r"^pdm\.lock$",
    r"^uv\.lock$",
    r"^Cargo\.lock$",
    r"^go\.sum$",
    r"^Gopkg\.lock$",
    r"^mix\.lock$",
    r"^packages\.lock\.json$",
    r"^gradle\.lockfile$",
    r"_pb2(_grpc)?\.pyi?$",
    r"\.pb\.go$",
    r"\.pb\.(cc|h)$",
    r"\.g\.cs$",
    r"(?i)\.designer\.cs$",
];

/// All folder rules in one set and all name rules in another, so each path is matched in a
/// single pass; a match index maps back to its class through the table's order.
static DIR_SET: LazyLock<(RegexSet, Vec<Exclusion>)> = LazyLock::new(|| {
    combine(&[
        (VENDORED_DIRS, Exclusion::Vendored),
        (GENERATED_DIRS, Exclusion::Generated),
        (DOCUMENTATION_DIRS, Exclusion::Documentation),
    ])
});
static NAME_SET: LazyLock<(RegexSet, Vec<Exclusion>)> = LazyLock::new(|| {
    combine(&[
        (VENDORED_NAMES, Exclusion::Vendored),
        (GENERATED_NAMES, Exclusion::Generated),
        (DOCUMENTATION_NAMES, Exclusion::Documentation),
    ])
});

fn combine(tables: &[(&[&str], Exclusion)]) -> (RegexSet, Vec<Exclusion>) {
    let mut patterns = Vec::new();
    let mut classes = Vec::new();
    for (table, class) in tables {
        patterns.extend_from_slice(table);
        classes.extend(std::iter::repeat_n(*class, table.len()));
    }
    // The tables are constants checked by the tests below, so a failure here is a bug in this file.
    let set = RegexSet::new(patterns)
        .unwrap_or_else(|e| panic!("invalid built-in linguist pattern: {e}"));
    (set, classes)
}

/// The class of the first matching rule, in table order (vendored, generated, documentation).
fn first_match(set: &(RegexSet, Vec<Exclusion>), text: &str) -> Option<Exclusion> {
    set.0.matches(text).iter().next().map(|i| set.1[i])
}

/// Whether any rule of a table matches, asked of every path: a lazy DFA over the table's
/// patterns answers in a few instructions per byte and is cheap to build, so the `RegexSet`
/// (costlier to build and to run) is built and asked only when some rule does match, to say
/// which. Should the DFA give up, the set answers.
struct Quick {
    dfa: LazyLock<Option<DFA>>,
    cache: &'static LocalKey<RefCell<Option<Cache>>>,
    set: &'static LazyLock<(RegexSet, Vec<Exclusion>)>,
}

impl Quick {
    fn any_match(&self, text: &str) -> bool {
        if let Some(dfa) = self.dfa.as_ref() {
            let answer = self.cache.try_with(|cache| {
                let mut cache = cache.try_borrow_mut().ok()?;
                let cache = cache.get_or_insert_with(|| dfa.create_cache());
                let input = Input::new(text).earliest(true);
                dfa.try_search_fwd(cache, &input).ok().map(|m| m.is_some())
            });
            if let Ok(Some(answer)) = answer {
                return answer;
            }
        }
        self.set.0.is_match(text)
    }

    /// The class of the first matching rule, in table order.
    fn first_match(&self, text: &str) -> Option<Exclusion> {
        if !self.any_match(text) {
            return None;
        }
        first_match(self.set, text)
    }
}

fn quick_dfa(tables: &[&[&str]]) -> Option<DFA> {
    let patterns: Vec<&str> = tables.iter().flat_map(|t| t.iter().copied()).collect();
    DFA::new_many(&patterns).ok()
}

thread_local! {
    static DIR_CACHE: RefCell<Option<Cache>> = const { RefCell::new(None) };
    static NAME_CACHE: RefCell<Option<Cache>> = const { RefCell::new(None) };
}

static DIR_QUICK: Quick = Quick {
    dfa: LazyLock::new(|| quick_dfa(&[VENDORED_DIRS, GENERATED_DIRS, DOCUMENTATION_DIRS])),
    cache: &DIR_CACHE,
    set: &DIR_SET,
};
static NAME_QUICK: Quick = Quick {
    dfa: LazyLock::new(|| quick_dfa(&[VENDORED_NAMES, GENERATED_NAMES, DOCUMENTATION_NAMES])),
    cache: &NAME_CACHE,
    set: &NAME_SET,
};

/// The exclusion of a folder (`""` for the root), from the folder rules alone.
pub(crate) fn dir_exclusion(dir: &str) -> Option<Exclusion> {
    if dir.is_empty() {
        return None;
    }
    let mut with_slash = String::with_capacity(dir.len() + 1);
    with_slash.push_str(dir);
    with_slash.push('/');
    DIR_QUICK.first_match(&with_slash)
}

pub(crate) fn name_exclusion(name: &str) -> Option<Exclusion> {
    NAME_QUICK.first_match(name)
}

/// The built-in exclusion for a path, before `.gitattributes` overrides.
#[cfg(test)]
pub fn exclusion(path: &str) -> Option<Exclusion> {
    dir_exclusion(super::parent_dir(path)).or_else(|| name_exclusion(super::file_name(path)))
}

/// Classifies many paths, matching each folder's rules once (a tree has far fewer folders
/// than files).
#[derive(Debug, Default)]
pub struct Classifier {
    last_dir: String,
    last: Option<Exclusion>,
}

impl Classifier {
    /// Same answer as [`exclusion`]; paths sorted by folder make it fastest.
    pub fn exclusion(&mut self, path: &str) -> Option<Exclusion> {
        let dir = super::parent_dir(path);
        if dir != self.last_dir {
            self.last = dir_exclusion(dir);
            self.last_dir.clear();
            self.last_dir.push_str(dir);
        }
        self.last.or_else(|| name_exclusion(super::file_name(path)))
    }
}

/// Extension → language, for programming and markup languages only (data and prose do not
/// count toward the share, as in Linguist).
const EXTENSIONS: &[(&str, &str)] = &[
    ("rb", "ruby"),
    ("rake", "ruby"),
    ("gemspec", "ruby"),
    ("ru", "ruby"),
    ("erb", "html+erb"),
    ("py", "python"),
    ("pyi", "python"),
    ("pyx", "cython"),
    ("ipynb", "jupyter notebook"),
    ("js", "javascript"),
    ("mjs", "javascript"),
    ("cjs", "javascript"),
    ("jsx", "javascript"),
    ("ts", "typescript"),
    ("tsx", "typescript"),
    ("mts", "typescript"),
    ("cts", "typescript"),
    ("vue", "vue"),
    ("svelte", "svelte"),
    ("java", "java"),
    ("kt", "kotlin"),
    ("kts", "kotlin"),
    ("scala", "scala"),
    ("groovy", "groovy"),
    ("gradle", "groovy"),
    ("go", "go"),
    ("rs", "rust"),
    ("php", "php"),
    ("blade.php", "blade"),
    ("twig", "twig"),
    ("cs", "csharp"),
    ("cshtml", "html+razor"),
    ("razor", "html+razor"),
    ("fs", "f#"),
    ("vb", "visual basic"),
    ("ex", "elixir"),
    ("exs", "elixir"),
    ("heex", "html+eex"),
    ("eex", "html+eex"),
    ("erl", "erlang"),
    ("c", "c"),
    ("h", "c"),
    ("cc", "c++"),
    ("cpp", "c++"),
    ("cxx", "c++"),
    ("hpp", "c++"),
    ("hh", "c++"),
    ("m", "objective-c"),
    ("swift", "swift"),
    ("dart", "dart"),
    ("lua", "lua"),
    ("pl", "perl"),
    ("pm", "perl"),
    ("r", "r"),
    ("jl", "julia"),
    ("hs", "haskell"),
    ("clj", "clojure"),
    ("zig", "zig"),
    ("sh", "shell"),
    ("bash", "shell"),
    ("zsh", "shell"),
    ("ps1", "powershell"),
    ("html", "html"),
    ("htm", "html"),
    ("css", "css"),
    ("scss", "scss"),
    ("sass", "sass"),
    ("less", "less"),
    ("sql", "sql"),
    ("tf", "hcl"),
];

/// Whole file names that name their language.
const FILE_NAMES: &[(&str, &str)] = &[
    ("Gemfile", "ruby"),
    ("Rakefile", "ruby"),
    ("Guardfile", "ruby"),
    ("Dockerfile", "dockerfile"),
    ("Containerfile", "dockerfile"),
    ("Makefile", "makefile"),
    ("GNUmakefile", "makefile"),
    ("Jenkinsfile", "groovy"),
];

/// The language of a file by its name or extension, if it is code or markup.
pub fn language_for_path(path: &str) -> Option<&'static str> {
    language_for_name(super::file_name(path))
}

/// [`language_for_path`] for a bare file name.
pub(crate) fn language_for_name(name: &str) -> Option<&'static str> {
    // The last two dots, found in one backward pass (a dot at 0 starts a hidden name).
    let bytes = name.as_bytes();
    let mut last = None;
    let mut second = None;
    for (i, &b) in bytes.iter().enumerate().rev() {
        if b == b'.' {
            if last.is_none() {
                last = Some(i);
            } else {
                second = Some(i);
                break;
            }
        }
    }
    if let Some(lang) = by_whole_name(name) {
        return Some(lang);
    }
    if name.starts_with("Dockerfile.") || name.ends_with(".Dockerfile") {
        return Some("dockerfile");
    }
    let last = last.filter(|&i| i > 0)?;
    let lower: std::borrow::Cow<'_, str> = if bytes.iter().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    };
    // Two-part extensions first, so `x.blade.php` is Blade and not PHP.
    if let Some(first) = second.filter(|&i| i > 0) {
        if let Some(lang) = EXTENSION_MAP.get(&lower[first + 1..]) {
            return Some(lang);
        }
    }
    EXTENSION_MAP.get(&lower[last + 1..]).copied()
}

/// Whole file names that name their language (`Gemfile`, `Dockerfile`, `Makefile` …).
fn by_whole_name(name: &str) -> Option<&'static str> {
    FILE_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, lang)| *lang)
}

/// [`EXTENSIONS`] keyed by the extension's bytes packed into an integer and sorted: a lookup
/// is a binary search over integers (cheaper than hashing or comparing strings).
static EXTENSION_MAP: LazyLock<PackedTable> = LazyLock::new(|| {
    let mut table: Vec<(u128, &'static str)> = EXTENSIONS
        .iter()
        .filter_map(|(ext, lang)| Some((pack(ext)?, *lang)))
        .collect();
    table.sort_unstable_by_key(|(key, _)| *key);
    PackedTable(table)
});

struct PackedTable(Vec<(u128, &'static str)>);

impl PackedTable {
    fn get(&self, ext: &str) -> Option<&&'static str> {
        let key = pack(ext)?;
        let i = self.0.binary_search_by_key(&key, |(k, _)| *k).ok()?;
        self.0.get(i).map(|(_, lang)| lang)
    }
}

/// Up to 16 bytes, big-endian and zero-padded (no extension holds a NUL byte).
fn pack(ext: &str) -> Option<u128> {
    let bytes = ext.as_bytes();
    if bytes.len() > 16 {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..bytes.len()].copy_from_slice(bytes);
    Some(u128::from_be_bytes(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_tables_compile() {
        assert!(!DIR_SET.0.is_empty());
        assert!(!NAME_SET.0.is_empty());
    }

    #[test]
    fn vendored_generated_and_docs_are_recognised() {
        assert_eq!(
            exclusion("web/node_modules/a/b.js"),
            Some(Exclusion::Vendored)
        );
        assert_eq!(exclusion("third_party/zlib/z.c"), Some(Exclusion::Vendored));
        assert_eq!(exclusion("static/app.min.js"), Some(Exclusion::Generated));
        assert_eq!(exclusion("package-lock.json"), Some(Exclusion::Generated));
        assert_eq!(exclusion("docs/conf.py"), Some(Exclusion::Documentation));
        assert_eq!(
            exclusion("examples/demo.js"),
            Some(Exclusion::Documentation)
        );
        assert_eq!(exclusion("src/app.py"), None);
        // `docs/` counts as documentation only at the top, as in Linguist.
        assert_eq!(exclusion("src/docs/handler.py"), None);
        assert_eq!(exclusion("a/b/README.md"), Some(Exclusion::Documentation));
        assert_eq!(exclusion("x/gradlew"), Some(Exclusion::Vendored));
        let mut c = Classifier::default();
        for p in ["web/node_modules/a/b.js", "web/app.js", "web/yarn.lock"] {
            assert_eq!(c.exclusion(p), exclusion(p), "{p}");
        }
    }

    #[test]
    fn the_quick_test_agrees_with_the_rule_sets() {
        assert!(DIR_QUICK.dfa.is_some() && NAME_QUICK.dfa.is_some());
        let names = [
            "jquery.js",
            "jquery-3.7.min.js",
            "jquery.ui.js",
            "bootstrap.min.css",
            "bootstrap-grid.js",
            "gradlew",
            "gradlew.bat",
            "mvnw.cmd",
            "configure",
            "configure.ac",
            "config.guess",
            "config.sub",
            "app.min.js",
            "app.min.jsx",
            "site.css.map",
            "map",
            "package-lock.json",
            "package.json",
            "yarn.lock",
            "bun.lockb",
            "Cargo.lock",
            "go.sum",
            "x_pb2.py",
            "x_pb2_grpc.pyi",
            "x_pb2.pyc",
            "api.pb.go",
            "a.pb.cc",
            "a.pb.h",
            "V.g.cs",
            "Form.Designer.cs",
            "FORM.DESIGNER.CS",
            "CHANGELOG",
            "CHANGES.md",
            "CHANGELOGS",
            "CONTRIBUTING.md",
            "COPYING",
            "INSTALL.txt",
            "LICENSE",
            "LICENCE.md",
            "LICENSES",
            "README",
            "README.rst",
            "Readme.md",
            "readme.md",
            "f123.py",
            "main.go",
            "index.ts",
            ".env",
            "é.py",
            "",
        ];
        for name in names {
            assert_eq!(
                NAME_QUICK.any_match(name),
                NAME_SET.0.is_match(name),
                "{name}"
            );
        }
        let dirs = [
            "node_modules/",
            "web/node_modules/",
            "vendor/",
            "vendors/",
            "src/vendored/",
            "third_party/",
            "third-party/",
            "thirdparty/",
            "3rd_party/",
            "external/",
            "deps/",
            "_deps/",
            "cache/",
            "a/.venv/",
            "venv/",
            "virtualenv/",
            "lib/site-packages/",
            "__pycache__/",
            ".bundle/",
            "Godeps/_workspace/",
            "Godeps/",
            "Pods/",
            "Carthage/",
            ".yarn/",
            "gradle/wrapper/",
            "gradle/",
            ".mvn/wrapper/",
            ".github/",
            ".gitlab/",
            "dist/",
            "build/generated/",
            "build/",
            ".next/",
            "coverage/",
            "target/",
            "obj/",
            "bin/Debug/",
            "bin/",
            "_build/",
            "docs/",
            "doc/",
            "src/docs/",
            "Documentation/",
            "api/javadoc/",
            "man/",
            "src/man/",
            "examples/",
            "Samples/",
            "demo/",
            "src/",
            "services/api/src/m001/",
            "é/",
        ];
        for dir in dirs {
            assert_eq!(DIR_QUICK.any_match(dir), DIR_SET.0.is_match(dir), "{dir}");
        }
    }

    #[test]
    fn every_extension_is_listed_once() {
        let mut exts: Vec<&str> = EXTENSIONS.iter().map(|(e, _)| *e).collect();
        exts.sort_unstable();
        exts.dedup();
        assert_eq!(exts.len(), EXTENSIONS.len());
    }

    #[test]
    fn languages_by_name_and_longest_extension() {
        assert_eq!(language_for_path("Gemfile"), Some("ruby"));
        assert_eq!(language_for_path("a/b/view.blade.php"), Some("blade"));
        assert_eq!(language_for_path("x.php"), Some("php"));
        assert_eq!(language_for_path("main.TS"), Some("typescript"));
        assert_eq!(language_for_path("package.json"), None);
        assert_eq!(language_for_path(".ts"), None);
        assert_eq!(language_for_path("a/.Dockerfile"), Some("dockerfile"));
        assert_eq!(language_for_path("Dockerfile.prod"), Some("dockerfile"));
        assert_eq!(language_for_path("x/noext"), None);
        assert_eq!(language_for_path(".a.ts"), Some("typescript"));
        assert_eq!(language_for_path("a..ts"), Some("typescript"));
    }
}
