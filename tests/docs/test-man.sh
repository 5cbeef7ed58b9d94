#!/usr/bin/env bash
# tests/docs/test-man.sh — the man pages of man/: each one is installed by `meson install`,
# renders without a single warning through groff and through man(1) (man-db, as a user
# reads it), and documents exactly the long options its program's --help lists.
#   usage: test-man.sh SRC BUILD NAME=PROGRAM...
# PROGRAM may be empty (a program not built yet): its options are then not compared.
# Exits 77 (skipped) when man or groff is missing (Debian: man-db, groff-base).
set -uo pipefail
src=$1 build=$2
shift 2
for tool in man groff; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool is missing (apt-get install man-db groff-base)"
        exit 77
    fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0
ok()   { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2"; }
skip() { skipped=$((skipped + 1)); echo "skip - $1"; }

# where meson install puts the pages
meson install -C "$build" --destdir "$tmp/stage" --no-rebuild --quiet >/dev/null 2>&1 ||
    fail "meson install --destdir succeeds"
mandir=$(find "$tmp/stage" -type d -path '*/man/man1' | head -1)

# long options, one per line, sorted: from --help text, and from roff source (\-\-name);
# --help itself is left out (a page documents it even where the usage text does not list it)
help_options() { grep -o -- '--[a-z][a-z0-9-]*' | grep -vx -- --help | sort -u; }
man_options() { sed 's/\\-/-/g' "$1" | grep -v '^\.\\"' | grep -o -- '--[a-z][a-z0-9-]*' |
                 grep -vx -- --help | sort -u; }

for pair in "$@"; do
    name=${pair%%=*} prog=${pair#*=}
    page="$src/man/$name.1"
    if [ -n "$mandir" ] && cmp -s "$page" "$mandir/$name.1"; then
        ok "$name.1 is installed in share/man/man1"
    else
        fail "$name.1 is installed in share/man/man1"
    fi

    # groff with every warning enabled: nothing on stderr, nothing wrong
    out=$(groff -ww -z -man "$page" 2>&1)
    if [ $? -eq 0 ] && [ -z "$out" ]; then ok "$name.1: groff -ww -z -man is silent"
    else fail "$name.1: groff -ww -z -man is silent" "$out"; fi

    # man-db as a reader runs it, 80 columns, with its warnings on
    MANWIDTH=80 man -l --warnings "$page" >"$tmp/page.txt" 2>"$tmp/warn.txt"
    status=$?
    if [ $status -eq 0 ] && [ ! -s "$tmp/warn.txt" ]; then ok "$name.1: man -l --warnings renders without warnings"
    else fail "$name.1: man -l --warnings renders without warnings" "status $status: $(cat "$tmp/warn.txt")"; fi
    if grep -q '^NAME' "$tmp/page.txt" && grep -Eq "^ +$name +- " "$tmp/page.txt" &&
       grep -q '^OPTIONS' "$tmp/page.txt" && grep -q '^EXIT STATUS' "$tmp/page.txt"; then
        ok "$name.1: has NAME ($name - ...), OPTIONS and EXIT STATUS"
    else
        fail "$name.1: has NAME ($name - ...), OPTIONS and EXIT STATUS" "$(head -20 "$tmp/page.txt")"
    fi
    long=$(LC_ALL=C.UTF-8 grep -E '^.{81,}' "$tmp/page.txt")
    if [ -z "$long" ]; then ok "$name.1: no rendered line is wider than 80 columns"
    else fail "$name.1: no rendered line is wider than 80 columns" "$long"; fi

    # the options: the same set in the page as in --help
    if [ -z "$prog" ] || [ ! -x "$prog" ]; then
        skip "$name.1: options against --help (${prog:-the program} is not built)"
        continue
    fi
    if ! "$prog" --help >"$tmp/help.txt" 2>&1; then
        fail "$name --help exits 0" "$(cat "$tmp/help.txt")"
        continue
    fi
    help_options <"$tmp/help.txt" >"$tmp/help.opts"
    man_options "$page" >"$tmp/man.opts"
    missing=$(comm -23 "$tmp/help.opts" "$tmp/man.opts" | tr '\n' ' ')
    extra=$(comm -13 "$tmp/help.opts" "$tmp/man.opts" | tr '\n' ' ')
    if [ -z "$missing" ]; then ok "$name.1 documents every option of --help ($(wc -l <"$tmp/help.opts") options)"
    else fail "$name.1 documents every option of --help" "missing: $missing"; fi
    if [ -z "$extra" ]; then ok "$name.1 names no option that --help does not list"
    else fail "$name.1 names no option that --help does not list" "not in --help: $extra"; fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
