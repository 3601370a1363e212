//! Compiles Linguist's exclusion rules (`src/index/linguist_rules.rs`, regex tables) into two
//! dense DFAs, serialized into `OUT_DIR` in the target's byte order and embedded by
//! `src/index/linguist.rs`: every run then starts with the automata built, instead of
//! parsing and compiling 39 patterns first (about a third of a one-file `analyze`).
//! The patterns are ASCII; they are compiled as bytes (`[^.]` any byte but a dot), which on
//! UTF-8 text answers as the Unicode regexes do. A pattern that does not compile is a bug in
//! the table, so the build fails and says which.

use regex_automata::dfa::dense;
use regex_automata::dfa::StartKind;
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::MatchKind;
use std::path::PathBuf;

include!("src/index/linguist_rules.rs");

fn compile(file: &str, tables: &[&[&str]]) {
    let patterns: Vec<&str> = tables.iter().flat_map(|t| t.iter().copied()).collect();
    let dfa = dense::Builder::new()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .thompson(thompson::Config::new().utf8(false))
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(StartKind::Unanchored),
        )
        .build_many(&patterns)
        .unwrap_or_else(|e| panic!("linguist rules for {file} do not compile: {e}"));
    let big_endian = std::env::var("CARGO_CFG_TARGET_ENDIAN").is_ok_and(|e| e == "big");
    let (bytes, pad) = if big_endian {
        dfa.to_bytes_big_endian()
    } else {
        dfa.to_bytes_little_endian()
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join(file);
    std::fs::write(&out, &bytes[pad..]).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}

fn main() {
    println!("cargo:rerun-if-changed=src/index/linguist_rules.rs");
    println!("cargo:rerun-if-changed=build.rs");
    compile("linguist-dirs.dfa", &DIR_RULES);
    compile("linguist-names.dfa", &NAME_RULES);
}
