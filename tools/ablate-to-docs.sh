#!/usr/bin/env bash
# tools/ablate-to-docs.sh — publish an `ember-ablate all` run as docs/experiments.md with its
# figures in docs/img/ (the links rewritten to img/).
#   usage: tools/ablate-to-docs.sh RESULTS_DIR [DOCS_DIR]
set -euo pipefail
src=$1 docs=${2:-docs}
[ -f "$src/report.md" ] || { echo "ablate-to-docs: no report.md in $src" >&2; exit 2; }
mkdir -p "$docs/img"
cp "$src"/*.png "$src"/*.gp "$docs/img/" 2>/dev/null || true
sed -e 's/](\([A-Za-z0-9_.-]*\.png\))/](img\/\1)/g' \
    -e 's/(script: `\([A-Za-z0-9_.-]*\.gp\)`)/(script: `img\/\1`)/g' \
    "$src/report.md" >"$docs/experiments.md.tmp"
mv "$docs/experiments.md.tmp" "$docs/experiments.md"
echo "wrote $docs/experiments.md and $docs/img/"
