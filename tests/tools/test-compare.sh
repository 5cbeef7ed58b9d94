#!/usr/bin/env bash
# tests/tools/test-compare.sh — tools/compare.sh --quick runs and prints its table: a row
# per configuration with both frameworks' images/s and a ratio. Needs PyTorch
# (/usr/bin/python3 with torch): skipped (77) without. The models: tools/fixtures/reference_models.py.
set -euo pipefail
src=$1 build=$2
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "skip: no PyTorch"; exit 77; }
[ -f "${REFERENCE_MODELS:-$src/tools/fixtures}/reference_models.py" ] || { echo "skip: no reference_models.py"; exit 77; }
out=$(cd "$src" && tools/compare.sh "$build" --quick)
echo "$out"
fail=0
for m in "mnist-cnn  bn" "mlp        bn"; do
    line=$(echo "$out" | grep -E "^$m +64 train") || { echo "FAIL - no row for $m"; fail=1; continue; }
    echo "$line" | grep -qE '\| +[0-9]+\.[0-9]+ +[12] +[0-9.]+ \| +[0-9]+\.[0-9]+ [12]/[12] +\| +[0-9]+\.[0-9]+x$' ||
        { echo "FAIL - malformed row: $line"; fail=1; }
done
[ $fail = 0 ] && echo "ok - compare.sh --quick: both rows with images/s and a ratio"
exit $fail
