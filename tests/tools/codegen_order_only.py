#!/usr/bin/env python3
"""Whether the `.ll` files codegen_identical.sh found different differ only in order.

usage: codegen_order_only.py BASE NEW REPORT
  BASE, NEW: the two snapshots codegen_identical.sh compared (WORK/base and WORK/new, or a
  snapshot given as BASE); REPORT: its output (the DIFFERS lines are read).

For each differing `.ll`: the line count, the package size, the string constants, and the
multiset of its instructions once what only order decides is set aside (SSA value and block
names, the numbers of `bmc_str_N` / `bmc_loop_N`, the order of an outlined function's
parameters in its definition and calls). Block headers are compared apart: their predecessor
lists show when LLVM laid out the blocks differently around code that moved. Prints one line
per file; exits 1 if any file differs in more than that (docs/DESIGN.md, "Lowering", step 5).
"""
import collections
import hashlib
import os
import re
import sys


def normalised(path, rounds=4):
    """The file's instructions as a multiset of labels: each instruction's text with every value
    it reads replaced by that value's label of the round before (round 0: all alike), `rounds`
    times, so a value read from another instruction counts up to `rounds` levels of its
    dataflow (a function's parameters are alike: outlining orders them by first use)."""
    lines, blocks, strings = [], collections.Counter(), collections.Counter()
    fn = 0  # SSA names are per function
    for line in open(path, errors="replace"):
        s = line.strip()
        m = re.match(r'@bmc_str_\d+ = .*c"(.*)"', s)
        if m:
            strings[m.group(1)] += 1
            continue
        if not s or s.startswith(";"):
            continue
        s = re.sub(r"@bmc_str_\d+", "@str", s)
        s = re.sub(r"@bmc_loop_\d+", "@loop", s)
        s = re.sub(r"!\d+", "!m", s)
        if re.match(r"^[\w.]+:", s):
            blocks[re.sub(r"%[\w.]+", "%v", re.sub(r"^[\w.]+:\s*", "", s))] += 1
            continue
        if s.startswith("define "):
            s = re.sub(r"%[\w.]+", "%p", s)  # parameters: alike
            m = re.match(r"(.*@\w+)\((.*)\)(.*)$", s)
            if m:
                s = m.group(1) + "(" + ", ".join(sorted(m.group(2).split(", "))) + ")" + m.group(3)
        if s.startswith("define "):
            fn += 1
        d = re.match(r"(%[\w.]+) = (.*)$", s)
        lines.append((fn, d.group(1) if d else None, d.group(2) if d else s))
    label = {}
    for _ in range(rounds + 1):
        new = {}
        texts = []
        for fn, dst, text in lines:
            t = re.sub(r"%[\w.]+", lambda m: "%[" + label.get((fn, m.group(0)), "v") + "]", text)
            m = re.match(r"((?:tail )?call [^@]*@\w+)\((.*)\)(.*)$", t)
            if m and ("@bmc_layer" in t or "@loop" in t or "@bmc_seg" in t):
                t = m.group(1) + "(" + ", ".join(sorted(m.group(2).split(", "))) + ")" + m.group(3)
            if dst:
                new[(fn, dst)] = hashlib.sha1(t.encode()).hexdigest()[:12]
            texts.append(t)
        label = new
    return collections.Counter(texts), blocks, strings


def size(path):
    return os.path.getsize(path) if os.path.exists(path) else None


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    base, new, report = sys.argv[1:]
    files = sorted({l.split()[1] for l in open(report) if l.startswith("DIFFERS: ") and l.split()[1].endswith(".ll")})
    bad = layout = 0
    for f in files:
        b, n = os.path.join(base, f), os.path.join(new, f)
        cb, bb, sb = normalised(b)
        cn, bn, sn = normalised(n)
        lines = sum(1 for _ in open(b)), sum(1 for _ in open(n))
        pkg = size(b[:-3] + ".bmcpkg"), size(n[:-3] + ".bmcpkg")
        if cb != cn or sb != sn or lines[0] != lines[1] or pkg[0] != pkg[1]:
            bad += 1
            print(f"{f}: NOT order only ({sum(((cb - cn) + (cn - cb)).values())} instructions, "
                  f"strings {'same' if sb == sn else 'differ'}, lines {lines[0]} / {lines[1]}, package {pkg[0]} / {pkg[1]})")
        elif bb != bn:
            layout += 1
            print(f"{f}: order only; the blocks' predecessor lists differ (LLVM's block layout)")
        else:
            print(f"{f}: order only")
    print(f"codegen_order_only: {len(files)} differing .ll files, {len(files) - bad} order only "
          f"({layout} of them with another block layout), {bad} not")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
