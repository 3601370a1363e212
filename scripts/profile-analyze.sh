#!/usr/bin/env bash
# Profile: instructions (valgrind's callgrind: counts, not seconds, so the figure is the same
# on a busy machine) of `pipewright --version` and of `analyze --json` on a one-file
# repository, with the share spent building regexes and automata (regex-syntax parsing,
# Thompson NFA compilation, DFA construction or checking, Aho-Corasick builds) and the top
# functions by inclusive count. Needs valgrind. Usage: scripts/profile-analyze.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
cargo build -q --locked --profile profiling -p pipewright
bin="${CARGO_TARGET_DIR:-target}/profiling/pipewright"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/one"
printf 'flask==3.0.3\n' >"$work/one/requirements.txt"

profile() { # name, command...
    local name=$1
    shift
    PIPEWRIGHT_DATA_DIR="$work/data" valgrind --tool=callgrind --callgrind-out-file="$work/$name.out" \
        "$@" >/dev/null 2>"$work/$name.err"
    grep -oP 'refs:\s+\K[0-9,]+' "$work/$name.err" | tr -d ,
}
version=$(profile version "$bin" --version)
analyze=$(profile analyze "$bin" analyze --json "$work/one")
echo "instructions, --version:          $version"
# `--version` goes through clap's full command tree; a subcommand is parsed with its own only
# (see `Cli::parse_args`), so a one-file analyze can take fewer instructions than `--version`.
if [ "$analyze" -ge "$version" ]; then
    echo "instructions, analyze (one file): $analyze ($((analyze - version)) more than --version)"
else
    echo "instructions, analyze (one file): $analyze ($((version - analyze)) fewer than --version)"
fi
# Inclusive counts of the entry points that build or check automata; nested calls are not
# counted twice because only the outermost of these names is taken per call chain.
callgrind_annotate --inclusive=yes "$work/analyze.out" 2>/dev/null >"$work/analyze.txt"
python3 - "$work/analyze.txt" "$analyze" <<'PY'
import re, sys
text, total = open(sys.argv[1]).read(), int(sys.argv[2])
builders = [
    r"regex::regex::string::Regex::new\b", r"regex::regexset::string::RegexSet::new",
    r"regex::builders::Builder::build_", r"regex_automata::hybrid::dfa::DFA::new_many",
    r"regex_automata::dfa::dense::DFA<&\[u32\]>::from_bytes\b", r"regex_automata::dfa::sparse::DFA<&\[u8\]>::from_bytes\b",
    r"regex_automata::nfa::thompson::compiler::Compiler::build_many", r"aho_corasick::ahocorasick::AhoCorasickBuilder::build",
    r"globset::GlobSetBuilder::build",
]
found = {}
for line in text.splitlines():
    m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+\S*?:(.*?) \[", line)
    if not m:
        continue
    count, func = int(m.group(1).replace(",", "")), m.group(2)
    for b in builders:
        if re.search(b, func):
            found[b] = max(found.get(b, 0), count)
largest = max(found.values(), default=0)
print(f"building or checking automata:  {largest} instructions at most ({100.0 * largest / total:.1f} % of analyze)")
for b, c in sorted(found.items(), key=lambda x: -x[1]):
    print(f"  {c:>9}  {b}")
PY
echo "top functions (inclusive) of analyze:"
grep -E '^\s*[0-9,]+ \(' "$work/analyze.txt" | grep -E 'pipewright_' | head -8 | cut -c1-150
