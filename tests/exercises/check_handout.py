#!/usr/bin/env python3
"""tests/exercises/check_handout.py SRC HANDOUT — no answer in the students' handout.

A handout (tools/make-handout) must hold none of the lines that answer an exercise:

  the reference solutions     exercises/solutions/*.c
  the planted mistakes        tests/exercises/mutants/*/*.c (a solution with one line wrong)
  the written answers         exercises/solutions/answers.md
  the grader's code           tests/exercises/*.c (its references compute the answers)
  ember's reference kernels   core/ops/{batchnorm,conv,conv_direct,pool,loss,update}.c,
                              core/tape.c (the backward loop), layers/init.c
  what docs show of answers   docs/batchnorm.md and docs/architecture.md between <!-- answer -->
                              and <!-- /answer --> (the backward's derivation, the tape's loop)

A line is distinctive when, stripped of indentation, it is at least 30 characters long (40
for prose), has at least 12 letters or digits (a table's rule is not) and is no part of a line the handout shares on purpose: the skeletons,
exercises.h, the headers of reading/, docs/questions.md, and the tutorials and the
experiments' report, which hold no exercise's code (a declaration, a usage example of
ember's API, a question the answers repeat). Every file of the handout, text or binary,
is searched for every distinctive line. Prints how many lines were looked for and exits 0
when none is found; else prints each one found with the secret file it comes from and the
handout file it is in, and exits 1.
"""
import glob
import os
import subprocess
import sys
import tempfile


def lines_of(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return [l.strip() for l in f]


def main(src, out):
    # what the handout shares on purpose: the skeletons, exercises.h, the headers of
    # reading/, the questions. A line of a secret file that is part of one of these (a
    # declaration, a usage example) is not distinctive.
    shared = []
    for p in glob.glob(os.path.join(src, "exercises", "ex*.c")) + [
            os.path.join(src, "exercises", "exercises.h"),
            os.path.join(src, "docs", "questions.md"),
            os.path.join(src, "docs", "tutorial-first-network.md"),
            os.path.join(src, "docs", "tutorial-batchnorm-experiments.md"),
            os.path.join(src, "docs", "experiments.md")] + glob.glob(os.path.join(out, "reading", "*")):
        shared += lines_of(p)
    shared_set = set(shared)

    def distinctive(line, minimum):
        return (len(line) >= minimum and sum(ch.isalnum() for ch in line) >= 12 and
                line not in shared_set and not any(line in s for s in shared))

    secrets = []  # (file, minimum length)
    if not glob.glob(os.path.join(src, "exercises", "solutions", "*.c")):
        sys.exit("check_handout: no solutions under " + src)
    code = sorted(glob.glob(os.path.join(src, "exercises", "solutions", "*.c")) +
                  glob.glob(os.path.join(src, "tests", "exercises", "mutants", "*", "*.c")) +
                  glob.glob(os.path.join(src, "tests", "exercises", "*.c")))
    secrets += [(p, 30) for p in code]
    secrets.append((os.path.join(src, "exercises", "solutions", "answers.md"), 40))
    for p in ["core/ops/batchnorm.c", "core/ops/conv.c", "core/ops/conv_direct.c",
              "core/ops/pool.c", "core/ops/loss.c", "core/ops/update.c", "core/tape.c",
              "layers/init.c"]:
        secrets.append((os.path.join(src, p), 30))

    patterns = {}  # line -> secret file
    for path, minimum in secrets:
        for line in lines_of(path):
            if line not in patterns and distinctive(line, minimum):
                patterns[line] = os.path.relpath(path, src)
    # what the docs show of an answer: BatchNorm's derivation, the tape's backward loop
    for doc in ["batchnorm.md", "architecture.md"]:
        inside, found_section = False, False
        for line in lines_of(os.path.join(src, "docs", doc)):
            if line == "<!-- answer -->":
                inside = found_section = True
            elif line == "<!-- /answer -->":
                inside = False
            elif inside and len(line) >= 30 and distinctive(line, 30):
                patterns.setdefault(line, f"docs/{doc} (an <!-- answer --> section)")
        if not found_section:
            sys.exit(f"check_handout: docs/{doc} has no <!-- answer --> section")

    # grep -F with every pattern at once (Aho-Corasick: one pass over the handout)
    found = []
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt") as pf:
        pf.write("\n".join(patterns) + "\n")
        pf.flush()
        r = subprocess.run(["grep", "-raoF", "-f", pf.name, out], capture_output=True)
        if r.returncode > 1:
            sys.exit("check_handout: grep failed: " + r.stderr.decode(errors="replace"))
        for hit in r.stdout.decode(errors="replace").splitlines():
            path, _, text = hit.partition(":")
            line = next((k for k in patterns if k == text or text in k), text)
            found.append((line, path))
    for line, path in found:
        print(f"LEAK: {os.path.relpath(path, out)} holds a line of {patterns[line]}: {line}")
    print(f"check_handout: {len(patterns)} distinctive lines of {len(secrets) + 1} secret "
          f"files looked for in {out}: {len(found)} found")
    return 1 if found else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: check_handout.py SRC HANDOUT")
    sys.exit(main(sys.argv[1], sys.argv[2]))
