#!/usr/bin/env bash
# check-format.sh - every C source matches .clang-format; --fix rewrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null || true)
[ -n "$files" ] || files=$(find src cli include tests fuzz -name '*.[ch]' -o -name '*.cpp')
if [ "${1:-}" = --fix ]; then
    clang-format -i $files
    exit 0
fi
bad=0
for f in $files; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f" >&2
        bad=1
    fi
done
exit $bad
