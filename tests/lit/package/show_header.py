#!/usr/bin/python3
"""Prints a .bmcpkg header's format version, code size and CUDA section
fields (bmc/abi/package.h, format 6) for tests/lit/package.

  show_header.py PACKAGE
"""
import struct
import sys

HEADER = struct.Struct("<8sIIQQQQQQQIIQQII24s")
f = HEADER.unpack(open(sys.argv[1], "rb").read(HEADER.size))
zero = f[11] == 0 and f[15] == 0 and f[16] == bytes(24)
print(f"format {f[1]}, code {f[7]} bytes, CUDA section at {f[12]}: {f[13]} bytes, crc {f[14]}, "
      f"reserved {'zero' if zero else 'NOT zero'}")
