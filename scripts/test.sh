#!/usr/bin/env bash
# test.sh - the whole test suite, as CI runs it (.ci/run calls this):
#   1. formatting (clang-format, .clang-format)
#   2. release build + every test (unit, CLI, golden, corpora in ../shared)
#   3. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   4. bounded libFuzzer runs of every parser (FUZZ_SECONDS each, default 20,
#      one per core at a time)
# Steps 2 and 3 include the real-kernel tests of `modus live` (tests/live) when
# run as root; otherwise they are skipped, and this script says so.
# Ends with one line: "total: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test || exit 2
# The corpus tests read real public telemetry from ../shared/corpora (or $SHARED):
# without it most CLI tests would fail one by one, so say so once and stop.
want_shared=${SHARED:-../shared}
export SHARED=$(cd "$want_shared" 2>/dev/null && pwd)
if [ ! -f "$SHARED/corpora/README.md" ]; then
    echo "modus: the tests need the corpora: $want_shared/corpora not found." >&2
    echo "  Put this checkout next to shared/ (…/main and …/shared), or run SHARED=/path/to/shared $0" >&2
    echo "total: 0 passed, 1 failed"
    exit 1
fi
jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-20}
pass=0
fail=0
mkdir -p out
step() { echo; echo "== $*"; }
count() { # count "N passed, M failed" lines in a log
    local p f
    p=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$1" | awk '{s+=$1} END{print s+0}')
    f=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$1" | awk '{s+=$3} END{print s+0}')
    pass=$((pass + p))
    fail=$((fail + f))
}
ok() { pass=$((pass + 1)); echo "ok: $*"; }
ko() { fail=$((fail + 1)); echo "FAILED: $*"; }

step "format (clang-format)"
if scripts/check-format.sh; then ok "format"; else ko "format: run scripts/check-format.sh --fix"; fi

run_suite() { # name builddir cmake-args...
    local name=$1 dir=$2
    shift 2
    step "$name: build"
    if ! cmake -S . -B "$dir" "$@" >"out/$dir.cmake.log" 2>&1 || ! cmake --build "$dir" -j"$jobs" >"out/$dir.build.log" 2>&1; then
        cat "out/$dir.cmake.log" "out/$dir.build.log" 2>/dev/null | tail -30
        ko "$name build"
        return
    fi
    ok "$name build"
    step "$name: tests"
    (cd "$dir" && ctest -j"$jobs" --output-on-failure) | tee "out/$dir.ctest.log" | grep -E '^ *[0-9]+/[0-9]+ Test|tests passed|FAIL|Failed' || true
    count "$dir/Testing/Temporary/LastTest.log"
    grep -q "100% tests passed" "out/$dir.ctest.log" || ko "$name: a test program failed"
}
if [ "$(id -u)" -eq 0 ]; then
    echo "modus: running as root: the real-kernel tests of modus live (tests/live) run in each suite"
else
    echo "modus: NOT root: the real-kernel tests of modus live (tests/live) are SKIPPED (ctest shows them"
    echo "  as 'Skipped'); run this script as root to include them"
fi
run_suite release build -DCMAKE_BUILD_TYPE=Release
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite "asan+ubsan" build-asan -DCMAKE_BUILD_TYPE=Debug -DMODUS_SANITIZE=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++

# every libFuzzer target (fuzz/fuzz_NAME.c), $jobs at a time (each is one process)
fuzz_targets=$(for f in fuzz/fuzz_*.c; do f=${f#fuzz/fuzz_}; echo "${f%.c}"; done)
step "fuzz: ${fuzz_seconds}s per target, $jobs at a time"
fuzz_one() { # NAME -> out/fuzz_NAME.log, exit status of the run
    local corpus seeds=fuzz/seeds/$1 rc
    [ "$1" = evtx ] && seeds=out/seeds_evtx
    corpus=$(mktemp -d)
    ./build-fuzz/fuzz_$1 -max_total_time="$fuzz_seconds" -max_len=65536 -timeout=10 \
        -artifact_prefix=out/ "$corpus" "$seeds" >out/fuzz_$1.log 2>&1
    rc=$?
    rm -rf "$corpus"
    return $rc
}
fuzz_report() { # NAME STATUS
    if [ "$2" -eq 0 ]; then
        ok "fuzz_$1: $(grep -Eo 'Done [0-9]+ runs' out/fuzz_$1.log)"
    else
        tail -40 out/fuzz_$1.log
        ko "fuzz_$1 (crash input in out/)"
    fi
}
if CC=clang CXX=clang++ cmake -S . -B build-fuzz -DMODUS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null 2>&1 &&
    cmake --build build-fuzz -j"$jobs" --target $(printf 'fuzz_%s ' $fuzz_targets) >/dev/null 2>&1; then
    # fuzz_evtx's seeds: the records area of each corpus EVTX file's first chunk,
    # cut at run time (corpus content stays out of the tree)
    mkdir -p out/seeds_evtx
    for f in "$SHARED"/corpora/evtx/*.evtx; do
        [ -f "$f" ] && python3 -c 'import sys,struct; d=open(sys.argv[1],"rb").read(); c=d[4096:4096+65536]; e=struct.unpack_from("<I",c,48)[0]; open(sys.argv[2],"wb").write(c[512:e])' "$f" "out/seeds_evtx/$(basename "$f")"
    done
    batch=()
    for t in $fuzz_targets; do
        batch+=("$t")
        [ ${#batch[@]} -lt "$jobs" ] && continue
        pids=()
        for b in "${batch[@]}"; do fuzz_one "$b" & pids+=($!); done
        for i in "${!batch[@]}"; do wait "${pids[$i]}"; fuzz_report "${batch[$i]}" $?; done
        batch=()
    done
    pids=()
    for b in "${batch[@]}"; do fuzz_one "$b" & pids+=($!); done
    for i in "${!batch[@]}"; do wait "${pids[$i]}"; fuzz_report "${batch[$i]}" $?; done
else
    ko "fuzz build"
fi

echo
echo "total: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
