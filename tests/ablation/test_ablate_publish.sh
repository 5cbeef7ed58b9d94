#!/usr/bin/env bash
# tests/ablation/test_ablate_publish.sh — the publishing path of the experiment report:
# `ember-ablate all --jobs 2 --out results/all` then `tools/ablate-to-docs.sh results/all`
# (docs/experiment-protocols.md). ember-ablate stamps its report with the commit it was
# built from; the script publishes only a full `all` run of a committed build (or one it is
# told to take with --allow-dirty), rewrites the figure links to img/, copies the figures,
# and leaves the documents untouched when it refuses. The full run takes about 30 minutes,
# so the accepted reports here are made by hand in the format ember-ablate writes; the
# refused one is a real (quick) run.
#   usage: test_ablate_publish.sh SRC EMBER_ABLATE
set -uo pipefail
src=$1 ABLATE=$2
publish="$src/tools/ablate-to-docs.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
st() { "$@" >"$tmp/out" 2>&1; echo $?; }

# a results folder as `ember-ablate all` writes it, built from commit $2
fake() {
    mkdir -p "$1"
    cat >"$1/report.md" <<EOF
$3

Written 2026-01-01 00:00 UTC by ember-ablate built from commit $2. Kernels: fast. Protocol: full.

![a figure](norm_batch.png)

*a figure* (script: \`norm_batch.gp\`)

*another*: \`lr_stress.gp\` (not rendered: gnuplot was not found; then run \`gnuplot lr_stress.gp\` in this folder)
EOF
    echo "png" >"$1/norm_batch.png"
    echo "plot" >"$1/norm_batch.gp"
    echo "plot" >"$1/lr_stress.gp"
}

docs="$tmp/docs"
mkdir -p "$docs"
echo "the previous report" >"$docs/experiments.md"

# ---- refused: nothing in docs changes ---------------------------------------------------------
s=$(st "$publish" "$tmp/nowhere" "$docs")
check "no report.md: exit 2" test "$s" = 2
check "... naming the folder and the command that makes it" grep -q "no report.md in $tmp/nowhere (run: ember-ablate all" "$tmp/out"
data=${EMBER_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ -e "$data/train-images-idx3-ubyte.gz" ] || [ -e "$data/train-images-idx3-ubyte" ]; then
    "$ABLATE" init-gradients --quick --out "$tmp/one" >/dev/null 2>&1
    check "a real report names its commit" grep -q "built from commit [0-9a-f]\+\(-dirty (with changes not committed)\)\?\. \|built from commit unknown\. " "$tmp/one/report.md"
    check "... and its kernels" grep -q "Kernels: \(fast\|reference\)\." "$tmp/one/report.md"
    s=$(st "$publish" --allow-dirty "$tmp/one" "$docs")
    check "the report of one experiment (--quick) is refused: exit 2" test "$s" = 2
    check "... saying whose report it is" grep -q "is the report of 'ember-ablate init-gradients --quick', not of the full 'ember-ablate all'" "$tmp/out"
else
    echo "# no Fashion-MNIST: the real-run checks are skipped"
fi
fake "$tmp/quick" 0123456789ab "# ember-ablate all --quick"
s=$(st "$publish" "$tmp/quick" "$docs")
check "a quick 'all' is refused: exit 2" test "$s" = 2
fake "$tmp/dirty" 0123456789ab-dirty "# ember-ablate all"
s=$(st "$publish" "$tmp/dirty" "$docs")
check "a build with uncommitted changes is refused: exit 2" test "$s" = 2
check "... saying so and what to do" grep -q "uncommitted changes.*commit, rebuild and run again, or use --allow-dirty" "$tmp/out"
fake "$tmp/unknown" unknown "# ember-ablate all"
s=$(st "$publish" "$tmp/unknown" "$docs")
check "an unknown commit is refused: exit 2" test "$s" = 2
check "after every refusal docs/experiments.md is as it was" test "$(cat "$docs/experiments.md")" = "the previous report"
check "... and no figure was copied" test ! -e "$docs/img/norm_batch.png"

# ---- accepted ----------------------------------------------------------------------------------
fake "$tmp/all" 0123456789ab "# ember-ablate all"
s=$(st "$publish" "$tmp/all" "$docs")
check "a full 'all' of a committed build is published: exit 0" test "$s" = 0
md="$docs/experiments.md"
check "the title stays first" test "$(head -1 "$md")" = "# ember-ablate all"
check "the stamp names the commit and the protocols document" \
    bash -c "sed -n 3,5p '$md' | tr '\n' ' ' | grep -q 'built from commit 0123456789ab; .*(experiment-protocols.md)'"
check "the report's own header follows, with its commit" grep -q "^Written .*built from commit 0123456789ab\. " "$md"
check "figure links point into img/" grep -q '^!\[a figure\](img/norm_batch.png)$' "$md"
check "script names too" grep -q '(script: `img/norm_batch.gp`)' "$md"
check "and the scripts of figures not rendered" grep -q '^\*another\*: `img/lr_stress.gp` (not rendered' "$md"
check "the figures and scripts are copied" test -s "$docs/img/norm_batch.png" -a -s "$docs/img/norm_batch.gp" -a -s "$docs/img/lr_stress.gp"
check "no temporary file is left" test ! -e "$docs/experiments.md.tmp"
s=$(st "$publish" --allow-dirty "$tmp/dirty" "$docs")
check "--allow-dirty publishes a dirty build, and the stamp says so" \
    bash -c "test $s = 0 && sed -n 3,5p '$md' | tr '\n' ' ' | grep -q 'commit 0123456789ab-dirty;'"

echo "$passed passed, $failed failed"
test "$failed" = 0
