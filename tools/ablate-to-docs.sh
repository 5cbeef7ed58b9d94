#!/usr/bin/env bash
# tools/ablate-to-docs.sh — publish a full `ember-ablate all` run as docs/experiments.md with
# its figures in docs/img/ (the links rewritten to img/), stamped with the commit the run's
# ember-ablate was built from.
#   usage: tools/ablate-to-docs.sh [--allow-dirty] RESULTS_DIR [DOCS_DIR]
# The published report must be what `ember-ablate all` (full protocol) wrote, built from a
# committed tree: a report of --quick, of one experiment, or of a build with uncommitted
# changes ("-dirty") or an unknown commit is refused with exit 2 (--allow-dirty accepts the
# last two, and the stamp then says so). Nothing in DOCS_DIR changes when it refuses.
#
# The whole sequence (docs/experiment-protocols.md, "Running the full protocol"):
#   build/examples/ember-ablate all --jobs 2 --out results/all
#   tools/ablate-to-docs.sh results/all
set -euo pipefail
allow_dirty=0
if [ "${1:-}" = --allow-dirty ]; then
    allow_dirty=1
    shift
fi
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: ablate-to-docs.sh [--allow-dirty] RESULTS_DIR [DOCS_DIR]" >&2; exit 2; }
src=$1 docs=${2:-docs}
die() { echo "ablate-to-docs: $*" >&2; exit 2; }
[ -f "$src/report.md" ] || die "no report.md in $src (run: ember-ablate all --jobs 2 --out $src)"
title=$(head -1 "$src/report.md")
[ "$title" = "# ember-ablate all" ] ||
    die "$src/report.md is the report of '${title#\# }', not of the full 'ember-ablate all'"
commit=$(sed -n 's/.*built from commit \([^ .]*\)[ .].*/\1/p' "$src/report.md" | head -1)
[ -n "$commit" ] || die "$src/report.md does not say which commit it was built from"
case $commit in
    *-dirty|unknown)
        [ $allow_dirty = 1 ] ||
            die "$src/report.md comes from a build of commit '$commit' (uncommitted changes, or no git): commit, rebuild and run again, or use --allow-dirty"
        ;;
esac
mkdir -p "$docs/img"
tmp="$docs/experiments.md.tmp"
{
    echo "$title"
    echo
    echo "Published by tools/ablate-to-docs.sh from \`ember-ablate all\` built from commit"
    echo "$commit; the papers, published numbers, protocols and criteria of every experiment are in"
    echo "[experiment-protocols.md](experiment-protocols.md)."
    # the rest of the report, its figure links pointing into img/
    tail -n +2 "$src/report.md" |
        sed -e 's/](\([A-Za-z0-9_.-]*\.png\))/](img\/\1)/g' \
            -e 's/(script: `\([A-Za-z0-9_.-]*\.gp\)`)/(script: `img\/\1`)/g' \
            -e 's/: `\([A-Za-z0-9_.-]*\.gp\)` (not rendered/: `img\/\1` (not rendered/g'
} >"$tmp"
for f in "$src"/*.png "$src"/*.gp; do
    if [ -e "$f" ]; then cp "$f" "$docs/img/"; fi
done
mv "$tmp" "$docs/experiments.md"
echo "wrote $docs/experiments.md and $docs/img/ (the run of commit $commit)"
