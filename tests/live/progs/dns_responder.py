#!/usr/bin/python3
"""A tiny DNS responder for the live tests: answers every A query with
ADDR, every AAAA query with no answer (NOERROR), over UDP and TCP on
127.0.0.1:PORT. Loopback only; it never forwards anything anywhere.
Usage: dns_responder.py PORT ADDR READY_FILE [HOST (default 127.0.0.1)]"""
import socket
import struct
import sys
import threading

port, addr, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
host = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"


def answer(q):
    if len(q) < 12:
        return None
    qid, _flags, qd = struct.unpack(">HHH", q[:6])
    if qd < 1:
        return None
    i = 12
    while i < len(q) and q[i]:
        i += 1 + q[i]
    qend = i + 5
    if qend > len(q):
        return None
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    question = q[12:qend]
    an = b""
    if qtype == 1:
        an = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
    hdr = struct.pack(">HHHHHH", qid, 0x8180, 1, 1 if an else 0, 0, 0)
    return hdr + question + an


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    tcp_ready.wait()
    open(ready, "w").write("ready\n")
    while True:
        q, peer = s.recvfrom(4096)
        r = answer(q)
        if r:
            s.sendto(r, peer)


def tcp():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(8)
    tcp_ready.set()
    while True:
        c, _ = s.accept()
        with c:
            data = c.recv(2)
            if len(data) < 2:
                continue
            n = struct.unpack(">H", data)[0]
            q = b""
            while len(q) < n:
                chunk = c.recv(n - len(q))
                if not chunk:
                    break
                q += chunk
            r = answer(q)
            if r:
                c.sendall(struct.pack(">H", len(r)) + r)


tcp_ready = threading.Event()
threading.Thread(target=tcp, daemon=True).start()
udp()
