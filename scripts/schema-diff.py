#!/usr/bin/env python3
"""Differential check of pipewright's GitLab-schema verdicts against the Python reference
implementation of JSON Schema (`jsonschema`, Draft 7), on the pipelines pipewright generates
for every fixture and on mutants of them (a value of another type, an unknown key, a string
where an enum or pattern is expected, a key removed, an empty list).

Both sides see the same document: each pipeline is read here (merges and `!reference`
resolved), mutated, and written out as JSON (which YAML reads unchanged), so only the schema
validators differ. Compared per document: the verdict, and the set of top-level entries (jobs,
keywords, extended templates) with an error.

    scripts/schema-diff.py BINARY [MUTANTS_PER_PIPELINE] [SEED]

Needs `pip install jsonschema pyyaml`. Prints the agreement and every disagreement.
"""
import copy
import json
import os
import random
import subprocess
import sys
import tempfile

import jsonschema
import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SCHEMA = json.load(open(os.path.join(ROOT, "crates/pipewright-core/data/gitlab-ci.schema.json")))


class Ref(list):
    pass


def reference(loader, node):
    return Ref(loader.construct_sequence(node))


yaml.SafeLoader.add_constructor("!reference", reference)


def resolve(doc, node):
    """Replaces each `!reference [a, b]` by what it names; a reference inside a list of
    commands is spliced one level, as GitLab does."""
    if isinstance(node, Ref):
        target = doc
        for key in node:
            target = target[key]
        return resolve(doc, copy.deepcopy(target))
    if isinstance(node, dict):
        return {k: resolve(doc, v) for k, v in node.items()}
    if isinstance(node, list):
        out = []
        for item in node:
            value = resolve(doc, item)
            if isinstance(item, Ref) and isinstance(value, list):
                out.extend(value)
            else:
                out.append(value)
        return out
    return node


def extends_of(entry):
    e = entry.get("extends") if isinstance(entry, dict) else None
    if isinstance(e, str):
        return [e]
    if isinstance(e, list):
        return [x for x in e if isinstance(x, str)]
    return []


def extended_templates(doc):
    queue = [k for k, v in doc.items() if not k.startswith(".") and isinstance(v, dict)]
    seen, out = set(), []
    while queue:
        name = queue.pop()
        for parent in extends_of(doc.get(name)):
            if parent in doc and parent not in seen:
                seen.add(parent)
                if parent.startswith("."):
                    out.append(parent)
                queue.append(parent)
    return sorted(out)


DOC = jsonschema.Draft7Validator(SCHEMA)
JOB = jsonschema.Draft7Validator({"$ref": "#/definitions/job_template", "definitions": SCHEMA["definitions"]})


def reference_entries(doc):
    """The top-level entries the reference implementation finds fault with."""
    bad = set()
    for err in DOC.iter_errors(doc):
        bad.add(str(err.path[0]) if err.path else "")
    if isinstance(doc, dict):
        for name in extended_templates(doc):
            if any(True for _ in JOB.iter_errors(doc[name])):
                bad.add(name)
    return bad


def pipewright_entries(binary, path):
    out = subprocess.run([binary, "validate", "--json", path], capture_output=True, text=True)
    try:
        findings = json.loads(out.stdout)["findings"]
    except (ValueError, KeyError):
        raise SystemExit(f"pipewright validate failed on {path}: {out.stdout}{out.stderr}")
    bad = set()
    for f in findings:
        if f.get("rule") != "gitlab-schema":
            continue
        head, sep, _ = f["message"].partition(": ")
        place = head if sep and " " not in head else ""
        # `job.script[0]` -> `job`; a key with dots is one entry of the document.
        bad.add(place)
    return bad


def top_level(bad, doc):
    """Maps readable paths (`a.b[0]`) onto the document's top-level keys."""
    out = set()
    for place in bad:
        if place == "" or not isinstance(doc, dict):
            out.add("")
            continue
        match = max((k for k in doc if place == k or place.startswith(k + ".") or place.startswith(k + "[")),
                    key=len, default=None)
        out.add(match if match is not None else place)
    return out


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


def mutate(doc, rng):
    doc = copy.deepcopy(doc)
    candidates = [p for p in paths(doc) if p]
    path = rng.choice(candidates)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    kind = rng.choice(["int", "list", "map", "string", "bool", "null", "unknown-key", "drop", "empty-list", "enum-word"])
    if kind == "int":
        parent[last] = rng.choice([0, -1, 3, 99999])
    elif kind == "list":
        parent[last] = [parent[last]]
    elif kind == "map":
        parent[last] = {"x": parent[last]}
    elif kind == "string":
        parent[last] = rng.choice(["", "on_failure", "sometimes", "1 day", "$VAR", "a/b", "-x"])
    elif kind == "bool":
        parent[last] = rng.choice([True, False])
    elif kind == "null":
        parent[last] = None
    elif kind == "unknown-key":
        target = parent[last] if isinstance(parent[last], dict) else parent
        if isinstance(target, dict):
            target[rng.choice(["stagee", "imagee", "when_", "rules2", "x"])] = "y"
        else:
            parent[last] = {"scriptt": "y"}
    elif kind == "drop":
        if isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
    elif kind == "empty-list":
        parent[last] = []
    elif kind == "enum-word":
        parent[last] = rng.choice(["always", "never", "manual", "pull", "push", "pull-push", "artifacts", "on_success", "delayed", "junit"])
    return doc, f"{kind} at {'/'.join(map(str, path))}"


def main():
    binary = sys.argv[1]
    mutants = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    fixtures = os.path.join(ROOT, "fixtures/repos")
    work = tempfile.mkdtemp()
    env = dict(os.environ, PIPEWRIGHT_DATA_DIR=os.path.join(work, "data"))
    docs = []
    for name in sorted(os.listdir(fixtures)):
        out = os.path.join(work, "gen", name)
        r = subprocess.run([binary, "-q", "generate", "--force", "--out", out,
                            os.path.join(fixtures, name)], capture_output=True, text=True, env=env)
        ci = os.path.join(out, ".gitlab-ci.yml")
        if r.returncode != 0 or not os.path.exists(ci):
            continue
        with open(ci) as f:
            raw = yaml.safe_load(f)
        docs.append((name, resolve(raw, raw)))
    total = agree = invalid = 0
    disagreements = []
    path = os.path.join(work, ".gitlab-ci.yml")
    for name, doc in docs:
        cases = [(doc, "as generated")] + [mutate(doc, rng) for _ in range(mutants)]
        for case, label in cases:
            with open(path, "w") as f:
                json.dump(case, f)
            ref = reference_entries(case)
            ours = top_level(pipewright_entries(binary, path), case)
            total += 1
            invalid += bool(ref)
            if ref == ours:
                agree += 1
            else:
                disagreements.append(f"{name}: {label}: reference {sorted(ref)} pipewright {sorted(ours)}")
    print(f"pipelines: {len(docs)} generated, {total} documents checked ({invalid} invalid per the reference)")
    print(f"agreement: {agree}/{total} ({100.0 * agree / max(total, 1):.2f} %)")
    for d in disagreements[:40]:
        print("  " + d)
    sys.exit(0 if agree == total else 1)


if __name__ == "__main__":
    main()
