#!/usr/bin/python3
"""Writes a copy of a .bmcpkg with another header format version and the
file's CRC32C recomputed (bmc/abi/package.h: the checksum at byte 72 is the
CRC32C of the file with that field zeroed), for tests/lit/package.

  set_version.py IN OUT VERSION
"""
import struct
import sys

POLY = 0x82F63B78  # CRC32C (Castagnoli), reflected
TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ POLY if c & 1 else c >> 1
    TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


src, dst, version = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = bytearray(open(src, "rb").read())
struct.pack_into("<I", b, 8, version)
struct.pack_into("<I", b, 72, 0)
struct.pack_into("<I", b, 72, crc32c(b))
open(dst, "wb").write(b)
