#!/usr/bin/env bash
# deps.sh - make sure the Debian packages modus builds and tests with are here.
# As root it installs what is missing; otherwise it prints the apt-get line.
# Usage: scripts/deps.sh [build|test]
set -euo pipefail
# clang + bpftool + libbpf-dev: the eBPF sensor (bpf/sensor.bpf.c, skeleton);
# libdw-dev + libelf-dev: unwinding and symbolizing its user stacks;
# libsqlite3-dev + libpq-dev: baseline profiles (SQLite, PostgreSQL);
# libvectorscan-dev: the rules' multi-literal matcher on fields with many substrings;
# libyaml-dev: Sigma rules; libnats-dev: the fleet tier's NATS JetStream client (nats.c)
need=(gcc g++ make cmake pkg-config libsimdjson-dev libpcre2-dev libtomlplusplus-dev libexpat1-dev libevtx-dev libbfio-dev zlib1g-dev
    clang bpftool libbpf-dev libdw-dev libelf-dev libsqlite3-dev libpq-dev libvectorscan-dev libyaml-dev libnats-dev)
if [ "${1:-build}" = test ]; then
    # clang + libclang-rt: libFuzzer and sanitizers; jq: CLI tests; time: RSS checks
    # perl, nodejs, a JDK: runtimes the live sensor's tests run programs in
    # postgresql: the baseline fleet test starts its own server; chromium: the HTML report test
    # nats-server: the fleet tests start their own (one node, a 3-node cluster), openssl their TLS CA;
    # dpkg-dev (dpkg-shlibdeps for CPack), file, man-db and systemd (systemd-analyze): the package test
    need+=(libclang-rt-14-dev clang-format jq time python3 libevtx-utils perl nodejs openjdk-17-jdk-headless
        postgresql chromium nats-server openssl dpkg-dev file man-db systemd)
fi
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "modus: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "modus: missing Debian packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
fi
