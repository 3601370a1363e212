// Linguist's exclusion rules as data: regex tables, in class order (vendored, generated,
// documentation). Read by `linguist.rs` and by the crate's build script (`include!`), which
// compiles them into DFAs once, at build time, so a run never builds them.

/// Vendored folders (Linguist `vendor.yml`), matched against a folder path with a trailing `/`.
pub(crate) const VENDORED_DIRS: &[&str] = &[
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
pub(crate) const VENDORED_NAMES: &[&str] = &[
    r"^jquery([^.]*)\.js$",
    r"^bootstrap([^/.]*)(\.min)?\.(js|css)$",
    r"^gradlew(\.bat)?$",
    r"^mvnw(\.cmd)?$",
    r"^configure$",
    r"^config\.guess$",
    r"^config\.sub$",
];

/// Documentation folders (Linguist `documentation.yml`); `docs/` counts only at the top.
pub(crate) const DOCUMENTATION_DIRS: &[&str] = &[
    r"^[Dd]ocs?/",
    r"(^|/)[Dd]ocumentation/",
    r"(^|/)[Jj]avadoc/",
    r"^[Mm]an/",
    r"^[Ee]xamples?/",
    r"^[Ss]amples?/",
    r"^[Dd]emos?/",
];

/// Documentation files, matched against the file name.
pub(crate) const DOCUMENTATION_NAMES: &[&str] = &[
    r"^CHANGE(S|LOG)?(\.|$)",
    r"^CONTRIBUTING(\.|$)",
    r"^COPYING(\.|$)",
    r"^INSTALL(\.|$)",
    r"^LICEN[CS]E(\.|$)",
    r"^README(\.|$)",
    r"^[Rr]eadme(\.|$)",
];

/// Folders of generated output (Linguist `generated.rb`, by path).
pub(crate) const GENERATED_DIRS: &[&str] = &[
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
pub(crate) const GENERATED_NAMES: &[&str] = &[
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

/// The folder tables, in class order; a folder path is matched with a trailing `/`.
pub(crate) const DIR_RULES: [&[&str]; 3] = [VENDORED_DIRS, GENERATED_DIRS, DOCUMENTATION_DIRS];
/// The file-name tables, in class order.
pub(crate) const NAME_RULES: [&[&str]; 3] = [VENDORED_NAMES, GENERATED_NAMES, DOCUMENTATION_NAMES];
