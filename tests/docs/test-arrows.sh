#!/usr/bin/env bash
# tests/docs/test-arrows.sh — the arrows of docs/architecture.md §1, read off the sources:
# every #include "..." of the library's folders stays in its own folder or goes down. core/
# includes only core/ (and the build's ember_config.h); layers/, optim/ and data/ include
# core/ and themselves; io/ the same, and io/checkpoint.h alone layers/module.h (a
# checkpoint is a module's state dict: §1 says why); nothing in the library includes
# examples/, exercises/, bench/ or tests/. The one exception is listed here by file, so a
# second one fails.
#   usage: test-arrows.sh SRC
set -uo pipefail
src=$1
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
cd "$src" || exit 1

# folder of an include written in file F: the path it names, resolved against F's folder
target_of() {   # target_of FILE INCLUDE -> the included path relative to the source root
    local dir inc=$2
    dir=$(dirname "$1")
    # relative to the file's folder when it is there, else to the root (-I.), as the
    # compiler looks
    if [ -e "$dir/$inc" ]; then realpath -m --relative-to=. "$dir/$inc"
    else realpath -m --relative-to=. "$inc"; fi
}

allowed() {   # allowed FOLDER FILE TARGET: is FILE (in FOLDER) allowed to include TARGET?
    local folder=$1 file=$2 t=$3
    case "$t" in ember_config.h) return 0 ;; esac
    case "$folder" in
        core) [[ $t == core/* ]] ;;
        layers|optim|data) [[ $t == core/* || $t == "$folder"/* ]] ;;
        io) [[ $t == core/* || $t == io/* ]] ||
            [[ $file == io/checkpoint.h && $t == layers/module.h ]] ;;
    esac
}

bad=()
n=0
for folder in core layers optim data io; do
    while IFS= read -r f; do
        while IFS= read -r inc; do
            n=$((n + 1))
            t=$(target_of "$f" "$inc")
            allowed "$folder" "$f" "$t" || bad+=("$f includes $inc ($t)")
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done < <(find "$folder" -name '*.[ch]' | sort)
done
check "the library's $n quoted includes go down or stay in their folder" test "${#bad[@]}" = 0
for b in "${bad[@]}"; do echo "    $b"; done
check "the library includes nothing of examples/, exercises/, bench/ or tests/" \
    bash -c "! grep -rnE '#[[:space:]]*include[[:space:]]*\"[^\"]*(examples|exercises|bench|tests)/' core layers optim data io"

# the checker itself catches a wrong arrow (a planted core -> layers include)
planted=$(allowed core core/tensor.c layers/module.h && echo allowed || echo refused)
check "a planted core/ -> layers/ include would be refused" test "$planted" = refused
planted=$(allowed io io/metrics.c layers/module.h && echo allowed || echo refused)
check "layers/module.h from an io/ file other than checkpoint.h would be refused" test "$planted" = refused

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
