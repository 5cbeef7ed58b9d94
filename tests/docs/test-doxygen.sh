#!/usr/bin/env bash
# tests/docs/test-doxygen.sh — the API reference builds from the public headers with no
# warning at all: every public function, type, field, enum value and macro documented,
# parameters and return values included (docs/Doxyfile.in: WARN_AS_ERROR).
#   usage: test-doxygen.sh DOXYGEN DOXYFILE
# The pages go to a temporary directory, not to build/api.
set -uo pipefail
doxygen=$1 doxyfile=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2"; }

{ cat "$doxyfile"; echo "OUTPUT_DIRECTORY = $tmp"; } | "$doxygen" - >"$tmp/out.txt" 2>"$tmp/warnings.txt"
status=$?
n=$(grep -c . "$tmp/warnings.txt")
if [ $status -eq 0 ] && [ "$n" -eq 0 ]; then ok "doxygen exits 0 with 0 warnings"
else fail "doxygen exits 0 with 0 warnings" "status $status, $n lines of warnings:
$(head -40 "$tmp/warnings.txt")"; fi

# every header of the input has its page, and the functions are listed
inputs=$(sed -n 's/^INPUT *= *//p' "$doxyfile" | tr -d '"')
missing=
for h in $inputs; do
    case $h in *.h) ;; *) continue ;; esac
    page=$(basename "$h" | sed 's/_/__/g; s/\./_8/')   # doxygen's file page name: tape_8h.html
    ls "$tmp"/html/*"$page".html >/dev/null 2>&1 || missing+=" $h"
done
if [ -z "$missing" ]; then ok "a page for every public header"
else fail "a page for every public header" "missing:$missing"; fi
for f in em_backward em_batchnorm em_gradcheck em_sgd_step em_loader_next em_checkpoint_save; do
    if grep -q "$f" "$tmp"/html/globals_func*.html 2>/dev/null; then ok "$f is in the function index"
    else fail "$f is in the function index"; fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
