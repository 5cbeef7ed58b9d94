# tests/tap.sh — sourced by the shell test scripts: one "ok - NAME" or "FAIL - NAME" line per
# check, and the counts the script prints and exits on at its end.
#   check NAME CMD...   CMD's exit status decides
#   ok NAME / fail NAME  when the script decides itself
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; fi; }
