#!/usr/bin/env bash
# ab.sh - paired A/B timing of two commands: runs alternate A, B, A, B ...
# (one warm-up pair first), so that load from elsewhere falls on both.
#
#   bench/ab.sh RUNS 'command A' 'command B'
#
# Prints the medians of CPU time (user+sys) and wall time of each, the
# ratios B/A, and the peak RSS of each (max over the runs). Output of the
# commands is discarded.
set -euo pipefail
RUNS=${1:?runs}
A=${2:?command A}
B=${3:?command B}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((r = 0; r <= RUNS; r++)); do
    for x in A B; do
        cmd=$A
        [ "$x" = B ] && cmd=$B
        /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" sh -c "$cmd >/dev/null 2>&1"
        [ "$r" -eq 0 ] && continue
        read -r wall user sys rss <"$tmp/t"
        echo "$wall $(echo "$user + $sys" | bc -l) $rss" >>"$tmp/$x"
    done
done
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
for x in A B; do
    eval "${x}cpu=$(cut -d' ' -f2 "$tmp/$x" | median)"
    eval "${x}wall=$(cut -d' ' -f1 "$tmp/$x" | median)"
    eval "${x}rss=$(cut -d' ' -f3 "$tmp/$x" | sort -n | tail -1)"
done
printf 'A: CPU %.3f s, wall %.3f s, peak RSS %.1f MB   (%s)\n' "$Acpu" "$Awall" "$(echo "$Arss/1000" | bc -l)" "$A"
printf 'B: CPU %.3f s, wall %.3f s, peak RSS %.1f MB   (%s)\n' "$Bcpu" "$Bwall" "$(echo "$Brss/1000" | bc -l)" "$B"
printf 'B/A: CPU %.3fx, wall %.3fx (%d pairs, medians; load average %s)\n' \
    "$(echo "$Bcpu/$Acpu" | bc -l)" "$(echo "$Bwall/$Awall" | bc -l)" "$RUNS" "$(cut -d' ' -f1-3 /proc/loadavg)"
