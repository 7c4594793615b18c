#!/usr/bin/env bash
# fleet.sh - what the fleet tier moves, on loopback. Results go in BENCHMARKS.md.
#   1. publisher -> scanner through an R1 stream (one node) and an R3 stream
#      (a 3-node cluster): `modus fleet publish` of a generated file while one
#      `modus scan --from` consumes it; events/s end to end (publish start to
#      the last event acknowledged), and the same `modus scan` of the file in
#      the same run;
#   2. the scanner alone (everything published first): events/s and events
#      per CPU-second with 1 and 2 partitions (one process, a thread each).
# Every configuration ROUNDS times, alternated; medians.
# Usage: bench/fleet.sh [ROUNDS] [MB]   (defaults 3, 60)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
mb=${2:-60}
M=${MODUS:-$PWD/build/modus}
U=${NATSUTIL:-$PWD/build/tests/natsutil}
DATA=${DATA:-$PWD/out/bench}
mkdir -p "$DATA"
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
cc -O2 -std=c11 -o "$DATA/gen_ecs" bench/gen_ecs.c
file=$DATA/fleet_${mb}M.ndjson
[ -f "$file" ] || "$DATA/gen_ecs" "${mb}000000" 42 >"$file"
n=$(wc -l <"$file")
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
port() { while :; do p=$((20000 + RANDOM % 30000)); (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }; done; }

# servers NAME NODES PARTITIONS -> URL in $url
servers() {
    local name=$1 nodes=$2 parts=$3 i cps=() rps=() routes=""
    for i in $(seq "$nodes"); do cps+=("$(port)"); rps+=("$(port)"); done
    for i in $(seq "$nodes"); do routes+="\"nats-route://127.0.0.1:${rps[$((i - 1))]}\","; done
    url=""
    for i in $(seq "$nodes"); do
        mkdir -p "$tmp/$name$i"
        {
            echo "server_name: $name$i"
            echo "listen: 127.0.0.1:${cps[$((i - 1))]}"
            echo "jetstream { store_dir: \"$tmp/$name$i\" }"
            [ "$nodes" -gt 1 ] && echo "cluster { name: $name, listen: \"127.0.0.1:${rps[$((i - 1))]}\", routes: [ ${routes%,} ] }"
            echo "mappings = { \"modus.events.*\": \"modus.events.{{wildcard(1)}}.{{partition($parts,1)}}\" }"
        } >"$tmp/$name$i.conf"
        nats-server -c "$tmp/$name$i.conf" >"$tmp/$name$i.log" 2>&1 &
        pids+=($!)
        url+="nats://127.0.0.1:${cps[$((i - 1))]},"
    done
    url=${url%,}
    for _ in $(seq 300); do "$U" "$url" ping 2>/dev/null && break; sleep 0.1; done
    for _ in $(seq 60); do
        "$M" fleet init "$url" --replicas "$nodes" --partitions "$parts" 2>/dev/null && return
        sleep 0.5
    done
    echo "fleet.sh: no JetStream at $url" >&2
    exit 1
}
stop_servers() {
    for p in "${pids[@]}"; do kill -9 $p 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}
drained() { [ "$("$U" "$url" pending MODUS_EVENTS 2>/dev/null)" = 0 ]; }
cpu_of() { awk '{print ($14 + $15) / 100}' /proc/$1/stat; } # user+sys seconds

echo "machine: $(nproc) CPUs, $(uname -r), $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $file, $n events, $((mb)) MB (bench/gen_ecs $mb""000000 42: $(jq -r .host.name "$file" | sort -u | wc -l) hosts)"
"$M" scan --format json "$file" >/dev/null 2>&1 # warm the page cache

for r in $(seq "$rounds"); do
    # the file
    t0=$(now)
    /usr/bin/time -f "%U %S" -o "$tmp/t" "$M" scan --format json "$file" >/dev/null 2>&1
    t1=$(now)
    echo "file $(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN{print n/(b-a)}') $(awk -v n="$n" '{print n/($1+$2)}' "$tmp/t")" >>"$tmp/e2e"
    # 1. end to end, R1 and R3, 2 partitions
    for nodes in 1 3; do
        servers "r$nodes-$r-" "$nodes" 2
        "$M" scan --from "$url" --format json >/dev/null 2>"$tmp/scan.err" &
        scanner=$!
        pids+=($scanner)
        until grep -q 'consuming (member' "$tmp/scan.err"; do sleep 0.05; done
        sleep 1.5 # both partitions taken
        t0=$(now)
        "$M" fleet publish "$url" --quiet "$file" 2>"$tmp/pub.err"
        t1=$(now)
        until drained; do sleep 0.05; done
        t2=$(now)
        echo "r$nodes $(awk -v a="$t0" -v b="$t2" -v n="$n" 'BEGIN{print n/(b-a)}') $(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN{print n/(b-a)}')" >>"$tmp/e2e"
        kill -TERM $scanner
        wait $scanner || true
        stop_servers
    done
    # 2. the scanner alone, 1 and 2 partitions (R1)
    for parts in 1 2; do
        servers "p$parts-$r-" 1 "$parts"
        "$M" fleet publish "$url" --quiet "$file" 2>/dev/null
        "$M" scan --from "$url" --format json >/dev/null 2>"$tmp/scan.err" &
        scanner=$!
        pids+=($scanner)
        until grep -q 'consuming (member' "$tmp/scan.err"; do sleep 0.01; done
        t0=$(now)
        c0=$(cpu_of $scanner)
        until drained; do sleep 0.05; done
        t1=$(now)
        c1=$(cpu_of $scanner)
        echo "p$parts $(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN{print n/(b-a)}') $(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN{print n/(b-a)}')" >>"$tmp/part"
        kill -TERM $scanner
        wait $scanner || true
        stop_servers
    done
done

echo
echo "1. end to end: fleet publish -> stream -> one scan --from (2 partitions), $rounds rounds, medians"
printf "   %-28s %12s %18s\n" "" "events/s" "(publish alone)"
f=$(awk '$1=="file"{print $2}' "$tmp/e2e" | median)
fc=$(awk '$1=="file"{print $3}' "$tmp/e2e" | median)
printf "   %-28s %12.0f %18s   (%.0f events per CPU-second)\n" "modus scan FILE" "$f" "-" "$fc"
for nodes in 1 3; do
    e=$(awk -v k="r$nodes" '$1==k{print $2}' "$tmp/e2e" | median)
    p=$(awk -v k="r$nodes" '$1==k{print $3}' "$tmp/e2e" | median)
    printf "   %-28s %12.0f %18.0f   (%.2f x the file)\n" "R$nodes ($nodes node$([ $nodes = 1 ] || echo s))" "$e" "$p" "$(awk -v a="$e" -v b="$f" 'BEGIN{print a/b}')"
done
echo
echo "2. the scanner alone (R1, everything published first), $rounds rounds, medians"
for parts in 1 2; do
    e=$(awk -v k="p$parts" '$1==k{print $2}' "$tmp/part" | median)
    c=$(awk -v k="p$parts" '$1==k{print $3}' "$tmp/part" | median)
    printf "   %d partition%s: %8.0f events/s, %8.0f events per scanner CPU-second\n" "$parts" "$([ $parts = 1 ] || echo s)" "$e" "$c"
done
