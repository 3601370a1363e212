//! Which files count toward a repository's language share, in the spirit of GitHub Linguist:
//! vendored, generated and documentation paths are left out, and so is anything that is not
//! code or markup. The rules are data (regex tables in `linguist_rules.rs`), compiled into two
//! DFAs by the build script and applied by one function.

use super::linguist_rules::{DIR_RULES, NAME_RULES};
use regex::RegexSet;
use regex_automata::dfa::{dense::DFA, Automaton};
use regex_automata::{Input, PatternSet};
use std::sync::{LazyLock, OnceLock};

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

/// The rules of one kind (folders or names): the DFA the build script compiled from the
/// tables (deserialized in place, no construction at run time), a pattern's class by its
/// index, and the same tables as a `RegexSet`, built only should the DFA not load or give up.
struct Rules {
    dfa: Option<DFA<&'static [u32]>>,
    classes: Vec<Exclusion>,
    tables: [&'static [&'static str]; 3],
    set: OnceLock<Option<RegexSet>>,
}

const CLASSES: [Exclusion; 3] = [
    Exclusion::Vendored,
    Exclusion::Generated,
    Exclusion::Documentation,
];

/// The DFA bytes as the build script wrote them, with the alignment a dense DFA needs.
#[repr(C)]
struct Aligned<B: ?Sized> {
    _align: [u32; 0],
    bytes: B,
}

static DIR_DFA: &Aligned<[u8]> = &Aligned {
    _align: [],
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/linguist-dirs.dfa")),
};
static NAME_DFA: &Aligned<[u8]> = &Aligned {
    _align: [],
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/linguist-names.dfa")),
};

static DIRS: LazyLock<Rules> = LazyLock::new(|| Rules::load(&DIR_DFA.bytes, DIR_RULES));
static NAMES: LazyLock<Rules> = LazyLock::new(|| Rules::load(&NAME_DFA.bytes, NAME_RULES));

impl Rules {
    fn load(bytes: &'static [u8], tables: [&'static [&'static str]; 3]) -> Rules {
        let classes: Vec<Exclusion> = tables
            .iter()
            .zip(CLASSES)
            .flat_map(|(table, class)| std::iter::repeat_n(class, table.len()))
            .collect();
        // SAFETY: `bytes` are this crate's own build output (build.rs serializes the DFA with
        // the same regex-automata, in the target's byte order), embedded in the binary, never
        // read from outside. `from_bytes_unchecked` still checks the header, version and
        // byte order; it skips the walk over every transition, which cost a third of a
        // one-file `analyze`. `the_compiled_rules_pass_the_full_check` runs that walk on the
        // same bytes in the tests.
        let dfa = unsafe { DFA::from_bytes_unchecked(bytes) }
            .ok()
            .map(|(dfa, _)| dfa)
            .filter(|dfa| dfa.pattern_len() == classes.len());
        Rules {
            dfa,
            classes,
            tables,
            set: OnceLock::new(),
        }
    }

    /// The class of the first matching rule, in table order (vendored, generated,
    /// documentation): one pass to say whether any rule matches (the common answer is no),
    /// then one to say which.
    fn first_match(&self, text: &str) -> Option<Exclusion> {
        if let Some(dfa) = &self.dfa {
            match dfa.try_search_fwd(&Input::new(text).earliest(true)) {
                Ok(None) => return None,
                Ok(Some(_)) => {
                    let mut matched = PatternSet::new(dfa.pattern_len());
                    if dfa
                        .try_which_overlapping_matches(&Input::new(text), &mut matched)
                        .is_ok()
                    {
                        return matched
                            .iter()
                            .next()
                            .and_then(|p| self.classes.get(p.as_usize()).copied());
                    }
                }
                Err(_) => {}
            }
        }
        self.by_set(text)
    }

    /// The same answer from the `RegexSet` of the tables.
    fn by_set(&self, text: &str) -> Option<Exclusion> {
        let set = self
            .set
            .get_or_init(|| RegexSet::new(self.tables.iter().flat_map(|t| t.iter().copied())).ok());
        let index = set.as_ref()?.matches(text).iter().next()?;
        self.classes.get(index).copied()
    }
}

/// The exclusion of a folder (`""` for the root), from the folder rules alone.
pub(crate) fn dir_exclusion(dir: &str) -> Option<Exclusion> {
    if dir.is_empty() {
        return None;
    }
    let mut with_slash = String::with_capacity(dir.len() + 1);
    with_slash.push_str(dir);
    with_slash.push('/');
    DIRS.first_match(&with_slash)
}

pub(crate) fn name_exclusion(name: &str) -> Option<Exclusion> {
    NAMES.first_match(name)
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
    fn the_compiled_rules_pass_the_full_check() {
        for bytes in [&DIR_DFA.bytes, &NAME_DFA.bytes] {
            let (dfa, _) = DFA::from_bytes(bytes).expect("the embedded DFA is valid");
            assert!(dfa.pattern_len() > 5);
        }
    }

    #[test]
    fn the_compiled_rules_load() {
        assert!(DIRS.dfa.is_some() && NAMES.dfa.is_some());
        assert!(DIRS.by_set("node_modules/").is_some());
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
    fn the_compiled_rules_agree_with_the_rule_sets() {
        assert!(DIRS.dfa.is_some() && NAMES.dfa.is_some());
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
            assert_eq!(NAMES.first_match(name), NAMES.by_set(name), "{name}");
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
            assert_eq!(DIRS.first_match(dir), DIRS.by_set(dir), "{dir}");
        }
        // Every rule, as written, is found by the compiled rules with its own class.
        for rules in [&*DIRS, &*NAMES] {
            let mut seen = 0;
            for (text, _) in names.iter().chain(dirs.iter()).map(|t| (t, ())) {
                if rules.first_match(text).is_some() {
                    seen += 1;
                }
            }
            assert!(seen > 10, "{seen}");
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
