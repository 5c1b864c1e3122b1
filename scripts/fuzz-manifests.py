#!/usr/bin/env python3
"""Fuzz campaign for `s3rec validate`: hostile and broken manifests must fail cleanly, fast and small.

`validate` runs on pull requests from anyone, so a manifest must never make it panic, abort, run long
or use much memory. This script mutates the repository's own manifests (environments/*.yaml and
examples/*.yaml) with a seeded generator and runs the real binary on each mutant:

    scripts/fuzz-manifests.py                      # 10,000 mutants, seed 1, target/release or target/debug
    scripts/fuzz-manifests.py --count 500 --seed 7 --binary target/debug/s3rec --keep /tmp/fuzz-failures

Mutants stay under about a megabyte: the bounds are for what a pull request can sneak into a normal
manifest. Validation of large manifests is linear but not free (see docs/validation.md for timings).

Mutations (one to three per mutant): byte flips, deletions, duplicated and swapped lines, deep block and
flow nesting, alias bombs, huge scalars, wrong types, odd unicode (bidi overrides, zero-width and
combining characters, lone surrogates as invalid UTF-8, NUL bytes), truncation, and many repeated entries.

Each run is measured as a child process: wall time, and peak resident memory from the kernel's rusage
of the child (RLIMIT_AS is impractical: the debug binary alone maps over 100 MiB of address space, and
allocator arenas reserve far more than they use). A run is a failure when it exits 101 (a Rust panic),
dies from a signal (an abort such as a stack overflow), exits with anything but 0 or 1, takes longer
than --max-seconds, or peaks above --max-rss-mib. The summary gives the counts, the exit codes, and the
maximum wall time and RSS; the exit status is 1 when anything failed.
"""

import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ODD_UNICODE = [
    "\u202e",  # right-to-left override
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",  # byte order mark in the middle of the text
    "e\u0301\u0301\u0301",  # stacked combining accents
    "\U0001f4a3",  # a four-byte character
    "\u0085",  # next line, a YAML 1.1 line break
    "\u2028",  # line separator
    "Ω≈ç√∫",
]


def seeds():
    files = sorted(ROOT.glob("environments/*.yaml")) + sorted(ROOT.glob("examples/*.yaml"))
    return [(f.name, f.read_bytes()) for f in files]


def alias_bomb(rng):
    levels = rng.randint(3, 9)
    width = rng.randint(2, 12)
    lines = [b"x0: &a0 [" + b",".join([b"lol"] * width) + b"]"]
    for i in range(1, levels + 1):
        lines.append(b"x%d: &a%d [" % (i, i) + b",".join([b"*a%d" % (i - 1)] * width) + b"]")
    return b"\n".join(lines) + b"\n"


def deep_block(rng):
    depth = rng.choice([65, 200, 1000, 5000, 20000])
    if rng.random() < 0.5:
        return b"x:\n  " + b"- " * depth + b"x\n"
    # Nested block mappings, each one level further indented.
    return b"".join(b" " * i + b"k%d:\n" % i for i in range(min(depth, 3000))) + b" " * 3000 + b"v\n"


def deep_flow(rng):
    depth = rng.choice([65, 254, 255, 256, 5000])
    opener, closer = rng.choice([(b"[", b"]"), (b"{a: ", b"}")])
    return b"x: " + opener * depth + b"1" + closer * depth + b"\n"


def huge_scalar(rng):
    size = rng.choice([10_000, 100_000, 300_000])
    kind = rng.random()
    if kind < 0.4:
        return b"A" * size
    if kind < 0.7:
        return b"'" + b"a b " * (size // 4) + b"'"
    return b"[" + b",".join([b"x"] * (size // 20)) + b"]"


def wrong_type(rng):
    return rng.choice(
        [b"[1, 2]", b"{a: 1}", b"12", b"-1", b"1e400", b".nan", b"true", b"~", b"''", b'"x"', b"0x7fffffffffffffffff"]
    )


def mutate(rng, text):
    ops = [
        "flip",
        "delete",
        "dup_line",
        "swap_lines",
        "deep_block",
        "deep_flow",
        "alias_bomb",
        "huge_scalar",
        "wrong_type",
        "unicode",
        "truncate",
        "repeat_entries",
    ]
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(ops)
        lines = text.split(b"\n")
        if op == "flip" and text:
            data = bytearray(text)
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(data))
                data[i] = rng.randrange(256) if rng.random() < 0.3 else data[i] ^ (1 << rng.randrange(8))
            text = bytes(data)
        elif op == "delete" and text:
            i = rng.randrange(len(text))
            text = text[:i] + text[i + rng.randint(1, 40) :]
        elif op == "dup_line" and lines:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            text = b"\n".join(lines)
        elif op == "swap_lines" and len(lines) > 1:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            text = b"\n".join(lines)
        elif op == "deep_block":
            text = text + b"\n" + deep_block(rng)
        elif op == "deep_flow":
            text = text + b"\n" + deep_flow(rng)
        elif op == "alias_bomb":
            text = text + b"\n" + alias_bomb(rng)
        elif op in ("huge_scalar", "wrong_type") and lines:
            # Replace the value of a `key: value` line, keeping its indentation.
            candidates = [i for i, l in enumerate(lines) if b": " in l and not l.lstrip().startswith(b"#")]
            if candidates:
                i = rng.choice(candidates)
                key = lines[i].split(b": ", 1)[0]
                value = huge_scalar(rng) if op == "huge_scalar" else wrong_type(rng)
                lines[i] = key + b": " + value
                text = b"\n".join(lines)
        elif op == "unicode" and text:
            i = rng.randrange(len(text) + 1)
            odd = rng.choice(ODD_UNICODE).encode("utf-8", "surrogatepass")
            if rng.random() < 0.15:
                odd = rng.choice([b"\xed\xa0\x80", b"\xff", b"\x00", b"\xc3"])  # invalid UTF-8, NUL
            text = text[:i] + odd + text[i:]
        elif op == "truncate" and text:
            text = text[: rng.randrange(len(text))]
        elif op == "repeat_entries":
            count = rng.choice([100, 500, 2_000])
            body = b"".join(b"  b%d:\n    name: Bad_Name_%d\n    versioning: maybe\n" % (n, n) for n in range(count))
            text = text + b"\nbuckets:\n" + body
    return text


def run_one(binary, path, timeout):
    start = time.monotonic()
    with open(os.devnull, "wb") as devnull, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(binary), "validate", str(path)],
            stdout=devnull,
            stderr=err,
            env={**os.environ, "NO_COLOR": "1"},
        )
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                proc.kill()
                killed = True
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0, os.SEEK_END)
        stderr_bytes = err.tell()
        err.seek(0)
        head = err.read(4096)
    # ru_maxrss is in KiB on Linux.
    return proc.returncode, wall, usage.ru_maxrss / 1024, stderr_bytes, killed, head


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--binary", type=Path)
    parser.add_argument("--max-seconds", type=float, default=1.0)
    parser.add_argument("--max-rss-mib", type=float, default=200.0)
    parser.add_argument("--kill-after", type=float, default=30.0, help="stop a run after this many seconds")
    parser.add_argument("--keep", type=Path, help="copy failing mutants into this directory")
    args = parser.parse_args()

    binary = args.binary
    if binary is None:
        release, debug = ROOT / "target/release/s3rec", ROOT / "target/debug/s3rec"
        binary = release if release.exists() else debug
    if not binary.exists():
        sys.exit(f"{binary} does not exist: build it first (cargo build)")
    corpus = seeds()
    rng = random.Random(args.seed)
    exit_codes = collections.Counter()
    failures = []
    max_wall = (0.0, None)
    max_rss = (0.0, None)
    max_stderr = (0, None)
    with tempfile.TemporaryDirectory(prefix="s3rec-fuzz-") as tmp:
        work = Path(tmp)
        # Environment files extend `_base.yaml`; the mutant sits next to an intact copy of it.
        shutil.copy(ROOT / "environments/_base.yaml", work / "_base.yaml")
        for n in range(args.count):
            name, text = rng.choice(corpus)
            mutant = mutate(rng, text)
            path = work / "mutant.yaml"
            path.write_bytes(mutant)
            code, wall, rss, stderr_bytes, killed, head = run_one(binary, path, args.kill_after)
            exit_codes[code] += 1
            label = f"#{n} ({name}, {len(mutant)} bytes)"
            max_wall = max(max_wall, (wall, label))
            max_rss = max(max_rss, (rss, label))
            max_stderr = max(max_stderr, (stderr_bytes, label))
            why = []
            if code == 101 or b"panicked at" in head:
                why.append("panic")
            if code < 0:
                why.append(f"signal {signal.Signals(-code).name}")
            elif code not in (0, 1, 101):
                why.append(f"exit {code}")
            if killed:
                why.append(f"killed after {args.kill_after}s")
            if wall > args.max_seconds:
                why.append(f"{wall:.2f}s")
            if rss > args.max_rss_mib:
                why.append(f"{rss:.0f} MiB")
            if why:
                failures.append((label, why))
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    (args.keep / f"mutant-{args.seed}-{n}.yaml").write_bytes(mutant)
            if (n + 1) % 1000 == 0:
                print(f"{n + 1} runs, {len(failures)} failures", file=sys.stderr)

    panics = sum(1 for _, why in failures if "panic" in why)
    signals = sum(1 for _, why in failures if any(w.startswith("signal") for w in why))
    slow = sum(1 for _, why in failures if any(w.endswith("s") and w[0].isdigit() for w in why))
    big = sum(1 for _, why in failures if any(w.endswith("MiB") for w in why))
    print(f"binary: {binary}")
    print(f"mutants: {args.count} (seed {args.seed})")
    print("exit codes: " + ", ".join(f"{c}: {k}" for c, k in sorted(exit_codes.items())))
    print(f"panics: {panics}, aborts/signals: {signals}")
    print(f"over {args.max_seconds}s: {slow}, over {args.max_rss_mib:.0f} MiB: {big}")
    print(f"max wall: {max_wall[0]:.3f}s {max_wall[1]}")
    print(f"max RSS: {max_rss[0]:.1f} MiB {max_rss[1]}")
    print(f"max stderr: {max_stderr[0]} bytes {max_stderr[1]}")
    for label, why in failures[:20]:
        print(f"FAIL {label}: {', '.join(why)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
