#!/usr/bin/env bash
# side-by-side.sh A.csv B.csv [LABEL_A LABEL_B] — two metrics CSVs of ember-mnist/-cifar
# next to each other, one row per epoch: test accuracy, train loss and seconds.
set -euo pipefail
a=$1 b=$2 la=${3:-A} lb=${4:-B}
for f in "$a" "$b"; do [ -r "$f" ] || { echo "side-by-side: cannot read $f" >&2; exit 2; }; done
awk -F, -v la="$la" -v lb="$lb" '
    FNR == 1 { file++; next }
    $6 == "" { next }                                # step rows have no test numbers
    { acc[file, $1] = $7; loss[file, $1] = $4; sec[file, $1] = $8; if ($1 > n) n = $1
      if ($10 == 1) div[file] = $1 }
    END {
        printf "%-6s | %-28s | %-28s\n", "", la, lb
        printf "%-6s | %9s %9s %8s | %9s %9s %8s\n", "epoch", "test acc", "train loss", "seconds", "test acc", "train loss", "seconds"
        for (e = 1; e <= n; e++) {
            printf "%-6d |", e
            for (f = 1; f <= 2; f++) {
                if ((f, e) in acc) printf " %8.2f%% %9.4f %8.1f |", 100 * acc[f, e], loss[f, e], sec[f, e]
                else printf " %9s %9s %8s |", "-", "-", "-"
            }
            printf "\n"
        }
    }' "$a" "$b"
