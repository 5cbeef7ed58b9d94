#!/usr/bin/env bash
# tests/exercises/test_handout.sh SRC BUILD-EX — the students' handout end to end
# (meson test handout, in exercise mode; .ci/run). BUILD-EX is the exercise-mode build whose
# grader libraries tools/make-handout ships (no programs: those are checked by the fresh-
# Debian run of docs/course.md). Checked:
#   - no line of a solution, a mutant, the answers, the grader or a reference kernel is in
#     it (check_handout.py), and a planted one is found;
#   - the empty skeletons grade as NOT ATTEMPTED, 0 points, no "ok" (skeleton.expect);
#   - each set of planted mistakes fails with its diagnosis (mutants/*/expect);
#   - the reference solutions score 130 of 130, all together passed;
#   - the one-line call of ember's own conv2d backward is rejected, the symbol named;
#   - --json: valid JSON, the points of the checks add up to each exercise's points, the
#     statuses, the rejected symbol;
#   - ./run class: the gradebook CSV of five submissions (solutions, a set of mutants,
#     nothing, and one with every kind of trouble: a file that does not compile, a library
#     call, an endless loop, a crash), its points equal to --json's;
#   - --sanitize: a read one past the end, which passes the normal build, crashes the
#     exercise with AddressSanitizer's report and the line.
set -uo pipefail
src=$(cd "$1" && pwd) build=$(cd "$2" && pwd)
here=$src/tests/exercises
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }

h=$work/handout
if ! "$src/tools/make-handout" --build-ex "$build" --no-programs "$h" >"$work/make.log" 2>&1; then
    cat "$work/make.log"
    echo "FAIL - tools/make-handout"
    exit 1
fi
ok "make-handout: $(tail -2 "$work/make.log" | head -1)"

# ---- no answer in it, and the check can fail
for d in solutions; do [ -d "$h/exercises/$d" ] && fail "the handout has exercises/$d"; done
[ -e "$h/tests" ] && fail "the handout has tests/"
cp -r "$h" "$work/leaky"
cp "$src/exercises/solutions/ex9_adam.c" "$work/leaky/exercises/notes.c"
if python3 "$here/check_handout.py" "$src" "$work/leaky" >"$work/leak.log" 2>&1; then
    fail "check_handout.py did not find a solution copied into the handout"
elif grep -q "LEAK: exercises/notes.c holds a line of exercises/solutions/ex9_adam.c" "$work/leak.log"; then
    ok "check_handout.py finds a solution planted in the handout ($(grep -c LEAK "$work/leak.log") lines)"
else
    cat "$work/leak.log"; fail "check_handout.py's report does not name the planted file"
fi

# ---- the skeletons, the mutants, the solutions
if "$here/check-feedback.sh" "$h" "$h/exercises" "$here/skeleton.expect" >"$work/fb.log"; then
    ok "the empty skeletons: $(tail -1 "$work/fb.log")"
else cat "$work/fb.log"; fail "the empty skeletons"; fi
for set in "$here"/mutants/*/; do
    s=$(basename "$set")
    if "$here/check-feedback.sh" "$h" "$set" "$set/expect" >"$work/fb.log"; then
        ok "mutants $s: $(tail -1 "$work/fb.log")"
    else cat "$work/fb.log"; fail "mutants $s"; fi
done
if "$h/run" grade --dir "$src/exercises/solutions" >"$work/sol.log" 2>&1 &&
   grep -qx "score: 130 of 130 points, 13 of 13 exercises pass; all together in ember: passed" "$work/sol.log"; then
    ok "the solutions: $(tail -1 "$work/sol.log")"
else grep -v ": ok —" "$work/sol.log"; fail "the solutions do not score 130 of 130"; fi

# ---- the library call
mkdir -p "$work/call"
cat >"$work/call/ex3_conv2d_backward.c" <<'EOF'
#include "exercises.h"
void em_conv2d_direct_backward(em_real *, em_real *, em_real *, const em_real *,
                               const em_real *, const em_real *, int, int, int, int, int, int,
                               int, int, int);
void ex_conv2d_backward(em_real *dx, em_real *dw, em_real *db, const em_real *dy,
                        const em_real *x, const em_real *w, int N, int C, int H, int W, int O,
                        int kh, int kw, int stride, int pad) {
    em_conv2d_direct_backward(dx, dw, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad);
}
EOF
s=0
"$h/run" grade --dir "$work/call" 3 >"$work/call.log" 2>&1 || s=$?
if [ "$s" = 1 ] && grep -q "^exercise 3 (conv2d backward): REJECTED — ex3_conv2d_backward.c calls em_conv2d_direct_backward, which is not yours to call" "$work/call.log"; then
    ok "the one-line call of ember's conv2d backward: $(head -c 110 "$work/call.log")..."
else cat "$work/call.log"; fail "the library call was not rejected (exit $s)"; fi

# ---- trouble of every kind: no compile, a library call, an endless loop, a crash
mkdir -p "$work/subs/alice" "$work/subs/bob" "$work/subs/carol" "$work/subs/dave"
cp "$src"/exercises/solutions/ex*.c "$work/subs/alice/"
cp "$here"/mutants/a/ex*.c "$work/subs/bob/"
cp "$src"/exercises/solutions/ex*.c "$work/subs/dave/"
echo "this is not C" >"$work/subs/dave/ex1_batchnorm_forward.c"
cp "$work/call/ex3_conv2d_backward.c" "$work/subs/dave/"
sed -i 's|    for (size_t i = 0; i < n; i++) {|    for (size_t i = 0; i < n; i += 0) {|' "$work/subs/dave/ex4_sgd_momentum.c"
sed -i 's|    const int Ho = (H - k) / stride + 1, Wo = (W - k) / stride + 1;|&\n    if (P > 1) *(volatile em_real *)0 = 1;|' "$work/subs/dave/ex7_maxpool.c"
grep -q "i += 0" "$work/subs/dave/ex4_sgd_momentum.c" && grep -q "volatile" "$work/subs/dave/ex7_maxpool.c" ||
    fail "the trouble submission was not made (the solutions changed?)"
s=0
"$h/run" class "$work/subs" "$work/book.csv" --timeout 3 >"$work/class.log" 2>&1 || s=$?
if [ "$s" = 0 ] && [ -f "$work/book.csv" ]; then ok "./run class: $(tail -1 "$work/class.log")"
else cat "$work/class.log"; fail "./run class exited $s"; fi
"$h/run" grade --dir "$work/subs/bob" --json >"$work/bob.json" 2>/dev/null
"$h/run" grade --dir "$work/subs/dave" --json --timeout 3 >"$work/dave.json" 2>/dev/null
if python3 - "$work/book.csv" "$work/bob.json" "$work/dave.json" >"$work/py.log" 2>&1 <<'EOF'
import csv, json, math, sys
book, bob_json, dave_json = sys.argv[1:]
rows = list(csv.DictReader(open(book)))
names = [r["student"] for r in rows]
assert names == ["alice", "bob", "carol", "dave"], names
head = list(rows[0].keys())
assert head == ["student"] + [f"ex{i}" for i in range(1, 14)] + ["points", "max_points",
               "exercises_passed", "together", "notes"], head
r = {x["student"]: x for x in rows}
assert float(r["alice"]["points"]) == 130 and r["alice"]["exercises_passed"] == "13", r["alice"]
assert r["alice"]["together"] == "passed" and r["alice"]["notes"] == "", r["alice"]
assert float(r["carol"]["points"]) == 0 and r["carol"]["together"] == "not attempted", r["carol"]
assert all(float(r["carol"][f"ex{i}"]) == 0 for i in range(1, 14))
assert "ex1 not attempted" in r["carol"]["notes"], r["carol"]["notes"]
for x in rows:
    assert abs(sum(float(x[f"ex{i}"]) for i in range(1, 14)) - float(x["points"])) < 0.02, x
    assert float(x["max_points"]) == 130
# bob: the CSV agrees with the JSON, and the JSON's checks add up
bob = json.load(open(bob_json))
assert bob["grader"] == "ember-grade" and bob["exercises"] == 13 and bob["max_points"] == 130
total = 0
for res in bob["results"]:
    if res["exercise"] == 0:
        assert res["status"] == "failed" and res["max_points"] == 0
        continue
    assert res["status"] == "failed", res["status"]
    pts = sum(c["points"] for c in res["checks"])
    assert abs(pts - res["points"]) < 1e-6, (res["exercise"], pts, res["points"])
    assert all(c["max_points"] > 0 for c in res["checks"])
    assert all(("detail" in c) != c["passed"] for c in res["checks"])
    assert res["checks_run"] == len(res["checks"]) and res["checks_full_marks"] > 0
    assert res["wrong"] and all(isinstance(w, str) for w in res["wrong"])
    assert abs(float(r["bob"][f"ex{res['exercise']}"]) - res["points"]) < 0.006
    total += res["points"]
assert abs(total - bob["points"]) < 1e-6 and abs(total - float(r["bob"]["points"])) < 0.01
ex2 = next(x for x in bob["results"] if x["exercise"] == 2)
assert ex2["wrong"] == ["dx"] and any("frozen-statistics" in h for h in ex2["hints"]), ex2
# dave: every kind of trouble, in the JSON and in the gradebook's notes
dave = {x["exercise"]: x for x in json.load(open(dave_json))["results"]}
want = {1: "not compiled", 3: "rejected", 4: "timeout", 7: "crashed", 2: "passed"}
for e, st in want.items():
    assert dave[e]["status"] == st, (e, dave[e]["status"], st)
assert "em_conv2d_direct_backward" in dave[3]["note"], dave[3]["note"]
assert "Segmentation fault" in dave[7]["note"], dave[7]["note"]
notes = r["dave"]["notes"]
for part in ["ex1 not compiled", "ex3 rejected (ex3_conv2d_backward.c calls em_conv2d_direct_backward",
             "ex4 timeout (still running after 3 s", "ex7 crashed (Segmentation fault"]:
    assert part in notes, (part, notes)
assert float(r["dave"]["points"]) == 90, r["dave"]["points"]
print("csv rows", names, "bob", round(bob["points"], 3), "of", bob["max_points"],
      "dave", r["dave"]["points"])
EOF
then ok "gradebook and JSON: $(tail -1 "$work/py.log")"
else cat "$work/py.log"; fail "the gradebook or the JSON"; fi

# ---- the sanitizer: a read past the end that the normal build lets pass
mkdir -p "$work/oob"
sed 's|        double gi = g\[i\] + weight_decay \* p\[i\];|        double gi = g[i] + weight_decay * p[i] + 0 * g[i + 1];|' \
    "$src/exercises/solutions/ex4_sgd_momentum.c" >"$work/oob/ex4_sgd_momentum.c"
grep -q "g\[i + 1\]" "$work/oob/ex4_sgd_momentum.c" || fail "the out-of-bounds read was not planted"
s1=0 s2=0
"$h/run" grade --dir "$work/oob" 4 >"$work/oob1.log" 2>&1 || s1=$?
"$h/run" grade --dir "$work/oob" --sanitize 4 >"$work/oob2.log" 2>&1 || s2=$?
if [ "$s1" = 0 ] && grep -q "PASSED" "$work/oob1.log" && [ "$s2" = 1 ] &&
   grep -q "^exercise 4 (sgd momentum): CRASHED — AddressSanitizer: heap-buffer-overflow .*ex4_sgd_momentum.c:[0-9]* in ex_sgd_momentum_step" "$work/oob2.log"; then
    ok "--sanitize: $(grep CRASHED "$work/oob2.log" | head -c 150)..."
else cat "$work/oob1.log" "$work/oob2.log"; fail "--sanitize did not catch a read past the end (exit $s1, $s2)"; fi

if ((fails)); then echo "$fails checks failed"; exit 1; fi
echo "all handout checks passed"
