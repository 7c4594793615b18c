#!/usr/bin/python3
"""A one-connection TCP listener on loopback for the reverse-shell tests:
listens on HOST:PORT, writes READY_FILE, accepts one connection, sends
COMMANDS to it and prints whatever comes back until EOF or 5 s of silence.
Usage: listener.py HOST PORT READY_FILE COMMANDS"""
import socket
import sys

host, port, ready, commands = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(1)
s.settimeout(15)
open(ready, "w").write("ready\n")
c, _ = s.accept()
c.sendall(commands.encode())
c.settimeout(5)
out = b""
try:
    while True:
        d = c.recv(4096)
        if not d:
            break
        out += d
except OSError:
    pass
c.close()
s.close()
sys.stdout.write(out.decode(errors="replace"))
