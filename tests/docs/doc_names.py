#!/usr/bin/env python3
"""tests/docs/doc_names.py — every name a document gives must exist, so docs cannot drift.

    usage: doc_names.py --src SRC [--allow FILE] [DOC ...]

Without DOCs: README.md, docs/*.md and man/*.1 of SRC. Checked:

  C names       every backticked span of a Markdown document that is a C identifier of
                ember's kind (it starts with em_ or EM_, or has an underscore, or is
                written as a call: `name()` or `name(args)`) and every em_/EM_ name in a
                man page must occur as a word in the sources (.c, .h, meson.build,
                scripts), outside the documents themselves — or in the document's own
                code blocks (a tutorial that writes a function names it), or as the name
                of a file of the tree (a figure, `noisy_bn_relu`), or as a meson test
                (a suite's name with _f32, _f64, _ref32 or _ref64);
  paths         every backticked span of a Markdown document that is a path into the
                repository (a name with a slash and a folder of the tree first, or a
                bare .c or .h file name), every relative link target ([text](path)), and
                every such path in a man page must exist in the tree (relative to SRC,
                or for a link to the document's folder; a bare name anywhere in it).
                Paths under build*/ and results/ (what a build or a run makes), absolute
                paths, ../ paths, URLs, and the files a document's own code blocks
                create (```c file=NAME) are not the tree's.

The allow-list (tests/docs/doc_names.allow) holds the few names that are intentionally
not ember's — PyTorch's, a C library's — one per line, `#` comments.

Prints one `ok -` or `FAIL -` line per document and exits 1 if any name is missing.
"""
import argparse
import glob
import os
import re
import sys

IDENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\(.*\))?$")
CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
EXTS = (".c", ".h", ".md", ".py", ".sh", ".1", ".build", ".txt", ".gp", ".png", ".svg",
        ".csv", ".emfx", ".arch", ".in", ".expect")
NOT_TREE = ("build", "results/", "/", "../", "~", "$", "http:", "https:", "file:")
CODE_EXTS = (".c", ".h", ".py", ".sh", ".build", ".txt", ".in")


def code_words(src):
    """Every word of the sources, and every file name and stem of the tree: what a C name
    in a document may refer to."""
    words = set()
    skip = {".git", "docs", "man"}
    for root, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d != ".git" and not d.startswith("build")]
        for f in files:
            words.add(f)
            words.add(f.split(".")[0])
        if os.path.relpath(root, src).split(os.sep)[0] in skip:
            continue
        for f in files:
            if f.endswith(CODE_EXTS) or f in ("run", "meson.build") or root.endswith(".ci"):
                try:
                    with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
                        text = fh.read()
                except OSError:
                    continue
                if f.endswith((".c", ".h")):  # a name a comment keeps after a rename is gone
                    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
                words.update(WORD.findall(text))
    return words


def is_c_name(span):
    m = IDENT.match(span)
    if not m:
        return None
    name = m.group(1)
    if name.startswith(("em_", "EM_")) or "_" in name.strip("_") or m.group(2) is not None:
        return name
    return None


def is_path(span):
    if " " in span or span.startswith(NOT_TREE) or "*" in span or "<" in span:
        return None
    if not re.match(r"^[A-Za-z0-9_.][A-Za-z0-9_./+-]*$", span):
        return None
    if "/" in span:  # a/b/c with a a folder of the tree
        return span if span.split("/")[0] in TOP else None
    return span if span.endswith((".c", ".h")) else None


def known_word(name, words):
    if name in words:
        return True
    m = re.match(r"^(.*)_(f32|f64|ref32|ref64)$", name)  # a meson test of a suite
    return bool(m) and m.group(1) in words


def spans_md(text):
    """Backticked spans outside fenced code blocks, with line numbers; link targets; the
    words of the code blocks and the files they create (file=NAME)."""
    spans, links, fenced, own = [], [], False, set()
    for no, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            own.update(re.findall(r"file=(\S+)", line))
            continue
        if fenced:
            own.update(WORD.findall(line))
            continue
        for s in re.findall(r"``?([^`]+)``?", line):
            spans.append((no, s.strip()))
        for t in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", line):
            links.append((no, t))
    return spans, links, own


def spans_man(text):
    """em_/EM_ words and path-like words of a man page (roff escapes removed)."""
    plain = re.sub(r"\\f[BIRP]|\\-|\\\(..|\\&", lambda m: "-" if m.group(0) == "\\-" else "",
                   text)
    out = []
    for no, line in enumerate(plain.splitlines(), 1):
        for w in re.findall(r"[A-Za-z0-9_./+-]+", line):
            out.append((no, w.strip(".,;:")))
    return out


def check(doc, src, words, allow):
    missing = []
    with open(doc, encoding="utf-8") as fh:
        text = fh.read()
    rel = os.path.relpath(doc, src)
    if doc.endswith(".1"):
        for no, w in spans_man(text):
            if w.startswith(("em_", "EM_")):
                if not known_word(w, words) and w not in allow:
                    missing.append(f"{rel}:{no}: `{w}` is not in the code")
            elif "/" in w and is_path(w):
                if not os.path.exists(os.path.join(src, w)) and w not in allow:
                    missing.append(f"{rel}:{no}: path `{w}` is not in the tree")
        return missing
    spans, links, own = spans_md(text)
    for no, s in spans:
        if s in allow or s in own:
            continue
        name = is_c_name(s)
        if not name:
            m = CALL.match(s)
            name = m.group(1) if m else None
        if name and name not in allow:
            if not known_word(name, words) and name not in own:
                missing.append(f"{rel}:{no}: `{s}` — {name} is not in the code")
            continue
        p = is_path(s)
        if p:
            here = os.path.join(src, p)
            beside = os.path.join(os.path.dirname(doc), p)
            if not os.path.exists(here) and not os.path.exists(beside):
                if "/" in p or p not in words:
                    missing.append(f"{rel}:{no}: path `{s}` is not in the tree")
    for no, t in links:
        if t.startswith(NOT_TREE[1:]) or "://" in t or t.startswith("mailto:"):
            continue
        if not os.path.exists(os.path.join(os.path.dirname(doc), t)) and t not in allow:
            missing.append(f"{rel}:{no}: link `{t}` leads nowhere")
    return missing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--allow")
    ap.add_argument("docs", nargs="*")
    a = ap.parse_args()
    src = os.path.abspath(a.src)
    global TOP
    TOP = {d for d in os.listdir(src) if not d.startswith(".")}
    allow = set()
    if a.allow:
        with open(a.allow, encoding="utf-8") as fh:
            for line in fh:
                line = line.split("#", 1)[0].strip()
                if line:
                    allow.add(line)
    docs = a.docs or ([os.path.join(src, "README.md")] +
                      sorted(glob.glob(os.path.join(src, "docs", "*.md"))) +
                      sorted(glob.glob(os.path.join(src, "man", "*.1"))))
    words = code_words(src)
    failed = False
    for doc in docs:
        missing = check(os.path.abspath(doc), src, words, allow)
        rel = os.path.relpath(doc, src)
        if missing:
            failed = True
            print(f"FAIL - {rel}: {len(missing)} name(s) missing")
            for m in missing:
                print("    " + m)
        else:
            print(f"ok - {rel}: every name it gives exists")
    return 1 if failed else 0


TOP = set()
if __name__ == "__main__":
    sys.exit(main())
