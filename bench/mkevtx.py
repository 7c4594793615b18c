#!/usr/bin/env python3
"""mkevtx.py - a large EVTX file for benchmarks, made of the intact chunks of
the given EVTX files repeated (chunks are self-contained: their strings and
templates are chunk-relative), under a new file header with the right chunk
count and CRC32.

    bench/mkevtx.py OUT MB FILE.evtx...
"""
import struct
import sys
import zlib

HDR, CHUNK = 4096, 65536


def chunks(path):
    data = open(path, "rb").read()
    n = struct.unpack_from("<H", data, 42)[0]
    for i in range(n):
        c = data[HDR + i * CHUNK:HDR + (i + 1) * CHUNK]
        if len(c) == CHUNK and c[:8] == b"ElfChnk\0" and struct.unpack_from("<I", c, 48)[0] > 512:
            yield c


def main():
    out, mb, files = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    pool = [c for f in files for c in chunks(f)]
    if not pool:
        sys.exit("mkevtx: no intact chunks")
    want = max(1, min(65535, int(mb * 1e6 / CHUNK)))
    body = [pool[i % len(pool)] for i in range(want)]
    hdr = bytearray(HDR)
    hdr[0:8] = b"ElfFile\0"
    struct.pack_into("<QQQIHHH", hdr, 8, 0, want - 1, 1, 128, 1, 3, HDR)
    struct.pack_into("<H", hdr, 42, want)
    struct.pack_into("<I", hdr, 124, zlib.crc32(bytes(hdr[:120])))
    with open(out, "wb") as f:
        f.write(hdr)
        for c in body:
            f.write(c)


main()
