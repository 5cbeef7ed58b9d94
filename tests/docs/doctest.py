#!/usr/bin/env python3
"""tests/docs/doctest.py — run what a Markdown document shows, so it cannot rot.

    usage: doctest.py --src SRC --build BUILD [--sanitize VALUE] DOC.md

Every fenced code block of DOC is looked at. The info string after the opening fence
names the language and, for the blocks this script acts on, what to do with it:

  ```c file=NAME.c        C source: written to NAME.c in the sandbox (blocks with the same
                          NAME are joined in order, so a tutorial can build a file piece
                          by piece). Every such file must also compile on its own with
                          -std=c11 -Wall -Wextra -Werror, and some `sh test` block must
                          mention it (the document's own command compiles it).
  ```c from=PATH          an excerpt of PATH in the repository: every line except `...`
                          must appear in PATH, in this order (whitespace trimmed).
  ```sh test              commands, run with bash -euo pipefail in the sandbox; they must
                          exit 0 (or `status=N`). Options:
                            append="ARGS"   run each command line with ARGS appended (a
                                            shorter run of a long command; comments on a
                                            command line must follow two spaces)
                            data            needs Fashion-MNIST: skipped when it is absent
                            needs=PATH      skipped while PATH (in the sandbox) is missing
                            creates="P..."  these paths must exist afterwards
                            timeout=S       seconds (default 300)
  ```sh ci                commands CI runs: each command line must appear verbatim in
                          .ci/run.
  ```sh covered=PATH      commands no test can run as shown (a download: the test machines
                          have no network), exercised instead by the test script PATH,
                          which must exist and mention each command's program by name.
  ```text expect          the standard output of the last `sh test` block, line by line:
                          whitespace runs count as one space, `...` alone on a line stands
                          for any number of lines, whole numbers must be equal, and with
                          tolerance=R a number with a decimal point or an exponent may
                          differ from the one shown by a relative R (default 0: equal;
                          tolerance=any: any number, for rounding noise).

A `sh`, `bash` or `c` block with none of these markers is an error: every command and every
piece of C shown must be checked. Other blocks (text, output excerpts) are not looked at.

The sandbox is a fresh directory with `build` linked to the build directory and `tools` to
the source tree's tools/. The library is installed there first (meson install --destdir),
and the environment is that of a user who installed it: PATH has its programs, pkg-config
finds ember.pc, man finds the man pages, DESTDIR points into the sandbox (so a document's
`meson install -C build` installs there, not into the system) and LD_LIBRARY_PATH has the
library (the sandbox cannot run ldconfig). In a sanitizer build (-Db_sanitize) the installed
library cannot be linked by a plain `cc`, so only the checks that need no install run.

Prints one `ok -`, `FAIL -` or `skip -` line per check and exits 1 if any failed, 77 if
every command block was skipped, else 0.
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^(\s*)```(.*)$")
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
COMMAND_LANGS = {"sh", "bash", "shell", "console"}


class Block:
    def __init__(self, lang, attrs, lines, line_no):
        self.lang, self.attrs, self.lines, self.line_no = lang, attrs, lines, line_no


def parse_info(info):
    """'sh test append="--a b" data' -> ('sh', {'test': True, 'append': '--a b', 'data': True})"""
    words = shlex.split(info)
    if not words:
        return "", {}
    attrs = {}
    for w in words[1:]:
        key, eq, value = w.partition("=")
        attrs[key] = value if eq else True
    return words[0], attrs


def parse_blocks(path):
    blocks, cur, indent = [], None, ""
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if cur is None:
                m = FENCE.match(line)
                if m:
                    indent = m.group(1)
                    lang, attrs = parse_info(m.group(2).strip())
                    cur = Block(lang, attrs, [], no)
            elif line.strip() == "```":
                blocks.append(cur)
                cur = None
            else:
                cur.lines.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
    if cur is not None:
        raise SystemExit(f"{path}:{cur.line_no}: code block never closed")
    return blocks


def command_lines(lines):
    """The commands of a shell block: comment-only and blank lines dropped, continuation
    lines joined."""
    out, acc = [], ""
    for line in lines:
        s = line.strip()
        if not acc and (not s or s.startswith("#")):
            continue
        if s.endswith("\\"):
            acc += s[:-1].rstrip() + " "
            continue
        out.append(acc + s)
        acc = ""
    if acc:
        out.append(acc.strip())
    return out


def strip_comment(cmd):
    """'prog --x   # what it does' -> 'prog --x' (a comment follows two spaces)"""
    m = re.search(r"\s{2,}#", cmd)
    return cmd[: m.start()].rstrip() if m else cmd


def with_append(lines, extra):
    out = []
    for line in lines:
        s = line.strip()
        if not s or s.startswith("#") or s.endswith("\\"):
            out.append(line)
        else:
            out.append(strip_comment(line) + " " + extra)
    return out


def numbers_close(want, got, tol):
    """Whole numbers (counts, steps, indices) must be equal; a number with a decimal point
    or an exponent may differ by the relative tolerance (None: any number)."""
    if want == got:
        return True
    if not re.search(r"[.eE]", want):
        return False
    if tol is None:
        return True
    a, b = float(want), float(got)
    return abs(a - b) <= tol * max(abs(a), abs(b))


def line_matches(want, got, tol):
    w_nums, g_nums = NUMBER.findall(want), NUMBER.findall(got)
    w_text = " ".join(NUMBER.sub("#", want).split())
    g_text = " ".join(NUMBER.sub("#", got).split())
    if w_text != g_text or len(w_nums) != len(g_nums):
        return False
    return all(numbers_close(a, b, tol) for a, b in zip(w_nums, g_nums))


def lines_match(want, got, tol):
    """want may contain '...' lines, each matching any run of lines of got"""
    memo = {}

    def go(i, j):
        if (i, j) in memo:
            return memo[i, j]
        if i == len(want):
            r = j == len(got)
        elif want[i].strip() == "...":
            r = any(go(i + 1, k) for k in range(j, len(got) + 1))
        else:
            r = j < len(got) and line_matches(want[i], got[j], tol) and go(i + 1, j + 1)
        memo[i, j] = r
        return r

    return go(0, 0)


class Doctest:
    def __init__(self, args):
        self.src = os.path.abspath(args.src)
        self.build = os.path.abspath(args.build)
        self.doc = args.doc
        self.doc_path = os.path.join(self.src, args.doc)
        self.sanitized = args.sanitize not in ("", "none")
        self.passed = self.failed = self.skipped = 0
        self.ran_commands = 0
        self.last_stdout = None

    def ok(self, what):
        self.passed += 1
        print(f"ok - {what}")

    def fail(self, what, detail=""):
        self.failed += 1
        print(f"FAIL - {what}")
        if detail:
            print("    " + detail.rstrip().replace("\n", "\n    "))

    def skip(self, what):
        self.skipped += 1
        print(f"skip - {what}")

    def where(self, b):
        return f"{self.doc}:{b.line_no}"

    # ---- checks that need no install ---------------------------------------------------
    def check_markers(self, blocks):
        for b in blocks:
            if b.lang in COMMAND_LANGS and not any(b.attrs.get(k) for k in ("test", "ci", "covered")):
                self.fail(f"{self.where(b)}: a shell block without `test`, `ci` or `covered=`",
                          "mark it: ```sh test (this script runs it), ```sh ci (.ci/run runs it) "
                          "or ```sh covered=TEST-SCRIPT")
            if b.lang == "c" and not (b.attrs.get("file") or b.attrs.get("from")):
                self.fail(f"{self.where(b)}: a C block without file= or from=",
                          "mark it: ```c file=NAME.c (compiled) or ```c from=PATH (an excerpt)")

    def check_excerpt(self, b):
        path = b.attrs["from"]
        try:
            with open(os.path.join(self.src, path), encoding="utf-8") as f:
                source = [l.strip() for l in f]
        except OSError as e:
            self.fail(f"{self.where(b)}: excerpt of {path}", str(e))
            return
        at = 0
        for line in b.lines:
            s = line.strip()
            if not s or s == "...":
                continue
            try:
                at = source.index(s, at) + 1
            except ValueError:
                self.fail(f"{self.where(b)}: excerpt of {path} matches the file",
                          f"not found (in this order): {s}")
                return
        self.ok(f"{self.where(b)}: excerpt of {path} matches the file")

    def check_ci(self, b):
        with open(os.path.join(self.src, ".ci/run"), encoding="utf-8") as f:
            ci = f.read()
        for cmd in command_lines(b.lines):
            cmd = strip_comment(cmd)
            if cmd in ci:
                self.ok(f"{self.where(b)}: CI runs `{cmd}`")
            else:
                self.fail(f"{self.where(b)}: CI runs `{cmd}`", "the line is not in .ci/run")

    def check_covered(self, b):
        path = b.attrs["covered"]
        try:
            with open(os.path.join(self.src, path), encoding="utf-8") as f:
                script = f.read()
        except OSError as e:
            self.fail(f"{self.where(b)}: covered by {path}", str(e))
            return
        for cmd in command_lines(b.lines):
            words = shlex.split(strip_comment(cmd))
            # the program: the first word that is a file of the repository (a script run
            # by an interpreter), else the first word that is not an assignment
            in_tree = [w for w in words if os.path.isfile(os.path.join(self.src, w))]
            plain = [w for w in words if "=" not in w]
            prog = os.path.basename((in_tree or plain or [""])[0])
            if prog and prog in script:
                self.ok(f"{self.where(b)}: {path} exercises {prog}")
            else:
                self.fail(f"{self.where(b)}: {path} exercises {prog or cmd}",
                          f"{path} does not mention it")

    # ---- the sandbox ---------------------------------------------------------------------
    def make_sandbox(self):
        self.tmp = tempfile.mkdtemp(prefix="ember-doctest-")
        self.work = os.path.join(self.tmp, "work")
        stage = os.path.join(self.tmp, "stage")
        os.makedirs(self.work)
        os.symlink(self.build, os.path.join(self.work, "build"))
        os.symlink(os.path.join(self.src, "tools"), os.path.join(self.work, "tools"))
        r = subprocess.run(["meson", "install", "-C", self.build, "--destdir", stage,
                            "--no-rebuild", "--quiet"], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"meson install --destdir failed:\n{r.stdout}{r.stderr}")
        pcs = [os.path.join(d, f) for d, _, fs in os.walk(stage) for f in fs if f == "ember.pc"]
        if len(pcs) != 1:
            raise SystemExit(f"expected one ember.pc under {stage}, found {pcs}")
        with open(pcs[0], encoding="utf-8") as f:
            pc = f.read()
        prefix = re.search(r"^prefix=(.*)$", pc, re.M).group(1)
        staged = stage + prefix
        pcdir = os.path.join(self.tmp, "pkgconfig")
        os.makedirs(pcdir)
        with open(os.path.join(pcdir, "ember.pc"), "w", encoding="utf-8") as f:
            f.write(re.sub(r"^prefix=.*$", "prefix=" + staged, pc, flags=re.M))
        libdir = os.path.dirname(os.path.dirname(pcs[0]))
        env = dict(os.environ)
        env.update({
            "PATH": os.path.join(staged, "bin") + os.pathsep + env.get("PATH", ""),
            "PKG_CONFIG_PATH": pcdir,
            "LD_LIBRARY_PATH": libdir,
            "MANPATH": os.path.join(staged, "share", "man"),
            "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80",
            "DESTDIR": stage,
        })
        self.env = env

    def write_sources(self, blocks):
        files = {}
        for b in blocks:
            if b.lang == "c" and b.attrs.get("file"):
                files.setdefault(b.attrs["file"], []).append("\n".join(b.lines) + "\n")
        for name, parts in files.items():
            with open(os.path.join(self.work, name), "w", encoding="utf-8") as f:
                f.write("\n".join(parts))
        return files

    def check_strict_compile(self, name):
        cflags = subprocess.run(["pkg-config", "--cflags", "ember"], env=self.env,
                                capture_output=True, text=True, check=True).stdout.split()
        r = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", name,
                            "-o", os.devnull] + cflags,
                           cwd=self.work, env=self.env, capture_output=True, text=True)
        if r.returncode == 0:
            self.ok(f"{name} compiles with -std=c11 -Wall -Wextra -Werror")
        else:
            self.fail(f"{name} compiles with -std=c11 -Wall -Wextra -Werror", r.stderr)

    def have_data(self):
        d = os.environ.get("EMBER_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
        return any(os.path.exists(os.path.join(d, "train-images-idx3-ubyte" + ext))
                   for ext in ("", ".gz"))

    def run_block(self, b):
        what = f"{self.where(b)}: " + "; ".join(strip_comment(c) for c in command_lines(b.lines))
        if b.attrs.get("data") and not self.have_data():
            self.skip(what + " (no Fashion-MNIST: apt-get install dataset-fashion-mnist)")
            self.last_stdout = None
            return
        needs = b.attrs.get("needs")
        if needs and not os.path.exists(os.path.join(self.work, needs)):
            self.skip(what + f" ({needs} does not exist yet)")
            self.last_stdout = None
            return
        lines = b.lines
        if b.attrs.get("append"):
            lines = with_append(lines, b.attrs["append"])
            what += f"  [with {b.attrs['append']} appended]"
        script = "set -euo pipefail\n" + "\n".join(lines) + "\n"
        want = int(b.attrs.get("status", 0))
        try:
            r = subprocess.run(["bash", "-c", script], cwd=self.work, env=self.env,
                               capture_output=True, text=True,
                               timeout=float(b.attrs.get("timeout", 300)))
        except subprocess.TimeoutExpired:
            self.fail(what, "timed out")
            self.last_stdout = None
            return
        self.ran_commands += 1
        self.last_stdout = r.stdout
        if r.returncode == want:
            self.ok(what)
        else:
            tail = "\n".join((r.stdout + r.stderr).splitlines()[-25:])
            self.fail(what, f"exit status {r.returncode}, expected {want}; output ends:\n{tail}")
        creates = b.attrs.get("creates")
        for p in shlex.split(creates) if isinstance(creates, str) else []:
            if os.path.exists(os.path.join(self.work, p)):
                self.ok(f"{self.where(b)}: {p} exists")
            else:
                self.fail(f"{self.where(b)}: {p} exists", "the commands did not create it")

    def check_expect(self, b):
        what = f"{self.where(b)}: the output shown is what the commands print"
        if self.last_stdout is None:
            self.skip(what + " (its commands did not run)")
            return
        t = b.attrs.get("tolerance", "0")
        tol = None if t == "any" else float(t)
        got = [l.rstrip() for l in self.last_stdout.rstrip("\n").splitlines()]
        want = [l.rstrip() for l in b.lines]
        while want and not want[-1]:
            want.pop()
        if lines_match(want, got, tol):
            self.ok(what + (" (decimals: any)" if tol is None else
                            f" (decimals within {tol:g} relative)" if tol else ""))
        else:
            self.fail(what, "shown:\n" + "\n".join(want) + "\nprinted:\n" + "\n".join(got))

    def run(self):
        blocks = parse_blocks(self.doc_path)
        self.check_markers(blocks)
        for b in blocks:
            if b.lang == "c" and b.attrs.get("from"):
                self.check_excerpt(b)
            if b.lang in COMMAND_LANGS and b.attrs.get("ci"):
                self.check_ci(b)
            if b.lang in COMMAND_LANGS and b.attrs.get("covered"):
                self.check_covered(b)
        runnable = [b for b in blocks if b.lang in COMMAND_LANGS and b.attrs.get("test")]
        if self.sanitized:
            for b in runnable:
                self.skip(f"{self.where(b)}: not run in a sanitizer build (the installed "
                          "library needs -fsanitize to link; the plain build runs it)")
            return self.finish(len(runnable))
        if not runnable and not any(b.lang == "c" and b.attrs.get("file") for b in blocks):
            return self.finish(0)
        self.make_sandbox()
        try:
            files = self.write_sources(blocks)
            commands = "\n".join("\n".join(b.lines) for b in runnable)
            for name in files:
                self.check_strict_compile(name)
                if name in commands:
                    self.ok(f"{name} is compiled by the document's own commands")
                else:
                    self.fail(f"{name} is compiled by the document's own commands",
                              "no `sh test` block mentions it")
            for b in blocks:
                if b.lang in COMMAND_LANGS and b.attrs.get("test"):
                    self.run_block(b)
                elif b.lang == "text" and b.attrs.get("expect"):
                    self.check_expect(b)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return self.finish(len(runnable))

    def finish(self, n_runnable):
        print(f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped")
        if self.failed:
            return 1
        if n_runnable and self.ran_commands == 0:
            return 77
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--sanitize", default="none")
    ap.add_argument("doc")
    sys.exit(Doctest(ap.parse_args()).run())


if __name__ == "__main__":
    main()
