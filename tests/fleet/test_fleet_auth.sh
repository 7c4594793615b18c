#!/bin/bash
# test_fleet_auth.sh - the 3-node cluster configuration of docs/fleet.md, run
# as it is written (host names, ports, paths and certificates swapped for
# loopback ones): TLS with a CA of the test's own, users in an application
# account and the system account. Checks that it refuses a client without
# credentials (CVE-2023-47090: never an accounts block with only $SYS users),
# a wrong password, a sensor touching the streams' configuration, and a
# client that does not trust the CA; that modus fleet init, publish and scan
# work with their users; and token authentication on a single node.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "FAIL: openssl missing" >&2; echo "0 passed, 1 failed"; exit 1; }

# a CA and a server certificate for 127.0.0.1
T=$TMP/tls
mkdir -p "$T"
(
    cd "$T" &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj "/CN=modus test CA" &&
        openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj "/CN=127.0.0.1" &&
        printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 2 -extfile ext.cnf &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout other-key.pem -out other-ca.pem -days 2 -subj "/CN=another CA"
) >"$TMP/openssl.log" 2>&1 || { cat "$TMP/openssl.log" >&2; exit 1; }

# the documented configuration, one file per node
sed -n '/(begin modus-cluster-config)/,/(end modus-cluster-config)/p' "$SRC/docs/fleet.md" >"$TMP/doc.conf"
check "docs/fleet.md holds the cluster configuration" grep -q '^accounts {' "$TMP/doc.conf"
cp=() rp=()
for i in 1 2 3; do
    cp+=("$(free_port)")
    rp+=("$(free_port)")
done
for i in 1 2 3; do
    sed -e "s|^server_name: nats1|server_name: c$i|" \
        -e "s|^listen: 0.0.0.0:4222|listen: 127.0.0.1:${cp[$((i - 1))]}|" \
        -e '/^http: /d' \
        -e "s|/etc/nats/tls/|$T/|" \
        -e "s|/var/lib/nats/jetstream|$TMP/c$i.js|" \
        -e "s|max_file_store: 200G|max_file_store: 1G|" \
        -e "s|listen: 0.0.0.0:6222|listen: 127.0.0.1:${rp[$((i - 1))]}|" \
        -e "s|@nats1.example.net:6222|@127.0.0.1:${rp[0]}|" \
        -e "s|@nats2.example.net:6222|@127.0.0.1:${rp[1]}|" \
        -e "s|@nats3.example.net:6222|@127.0.0.1:${rp[2]}|" \
        "$TMP/doc.conf" >"$TMP/c$i.conf"
    start_node "c$i" "$TMP/c$i.conf"
done
URLS="tls://127.0.0.1:${cp[0]},tls://127.0.0.1:${cp[1]},tls://127.0.0.1:${cp[2]}"
U="tls://scanner:SCANNER_PASSWORD@127.0.0.1:${cp[0]}"
export NATS_CA=$T/ca.pem
wait_js "$U" 60 || { tail -5 "$TMP/c1.log" >&2; exit 1; }

# no credentials: refused (the CVE's configuration would let this in)
"$NATSUTIL" "tls://127.0.0.1:${cp[0]}" ping 2>"$TMP/anon.err"
expect_eq "a client without credentials is refused" $? 2
check "... as an authorization violation" grep -q 'Authorization Violation' "$TMP/anon.err"
"$MODUS" fleet init "$URLS" --nats-ca "$T/ca.pem" 2>"$TMP/anon2.err"
expect_eq "modus without credentials is refused" $? 2
"$MODUS" fleet init "$URLS" --nats-ca "$T/ca.pem" --nats-user scanner --nats-password wrong 2>"$TMP/wrong.err"
expect_eq "a wrong password is refused" $? 2
check "... and said so" grep -q 'Authorization Violation' "$TMP/wrong.err"
# TLS: a client that does not trust the servers' CA
"$MODUS" fleet init "$URLS" --nats-ca "$T/other-ca.pem" --nats-user scanner --nats-password SCANNER_PASSWORD 2>"$TMP/ca.err"
expect_eq "a server the CA did not sign is refused" $? 2
check "... by the TLS handshake" grep -q 'SSL handshake error' "$TMP/ca.err"

AS_SCANNER=(--nats-ca "$T/ca.pem" --nats-user scanner --nats-password SCANNER_PASSWORD)
AS_SENSOR=(--nats-ca "$T/ca.pem" --nats-user sensor --nats-password SENSOR_PASSWORD)
for _ in $(seq 30); do # until the cluster has its meta leader
    "$MODUS" fleet init "$URLS" --replicas 3 --partitions 8 "${AS_SCANNER[@]}" 2>"$TMP/init.err" && break
    sleep 1
done
check "fleet init as scanner: R3 streams" grep -q 'MODUS_EVENTS .* replicas 3' "$TMP/init.err"
check "the documented mapping is active" grep -q 'mapping: active on this server' "$TMP/init.err"
"$MODUS" fleet init "$URLS" --replicas 3 --partitions 8 "${AS_SENSOR[@]}" 2>"$TMP/init-sensor.err"
expect_eq "a sensor may not change the streams" $? 2

# a sensor publishes, a scanner consumes (real telemetry)
"$MODUS" scan --enrich --format json "$SHARED"/corpora/evtx/*.evtx >"$TMP/events.ndjson" 2>/dev/null
n=$(wc -l <"$TMP/events.ndjson")
"$MODUS" fleet publish "$URLS" "${AS_SENSOR[@]}" "$TMP/events.ndjson" 2>"$TMP/pub.err"
expect_eq "the sensor user publishes" $? 0
expect_eq "every event stored" "$("$NATSUTIL" "$U" count MODUS_EVENTS)" "$n"
"$MODUS" scan --from "$URLS" "${AS_SCANNER[@]}" --format json --idle 3 --duration 300 >"$TMP/alerts.json" 2>"$TMP/scan.err"
check "the scanner user consumes every event" grep -q "stopped after .*: $n events from" "$TMP/scan.err"
"$MODUS" scan --format json "$TMP/events.ndjson" 2>/dev/null | jq -c -S . | sort >"$TMP/want.json"
expect_eq "and raises the file's alerts" "$(jq -c -S . "$TMP/alerts.json" | sort | diff - "$TMP/want.json" >/dev/null && echo same)" same

# token authentication (single node, plain TCP on loopback)
single_node tk 1 'authorization { token: "t0ken-for-the-test" }'
echo t0ken-for-the-test >"$TMP/token"
echo wrong-token >"$TMP/badtoken"
unset NATS_CA
wait_js "nats://t0ken-for-the-test@127.0.0.1:$PORT_tk" || exit 1
"$MODUS" fleet init "$URL_tk" --nats-token-file "$TMP/token" 2>/dev/null
expect_eq "a token file authenticates" $? 0
"$MODUS" fleet init "$URL_tk" --nats-token-file "$TMP/badtoken" 2>"$TMP/tok.err"
expect_eq "a wrong token is refused" $? 2
"$MODUS" fleet init "$URL_tk" --nats-token-file "$TMP/none" 2>"$TMP/tok2.err"
expect_eq "a missing token file is a usage error" $? 2
check "... naming the file" grep -q "$TMP/none" "$TMP/tok2.err"
finish
