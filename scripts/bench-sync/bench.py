#!/usr/bin/env python3
"""Helpers for scripts/bench-sync.sh: the data sets, the 1% change, timing, verification and the report.

Only the standard library is used, so any Python 3.9+ runs it (the script uses the benchmark venv's).

    bench.py dataset DIR --kind sync|memory|small [--files N]  create the data set unless it is already complete
    bench.py touch DIR                                      apply the deterministic 1% change (content + mtime)
    bench.py restore DIR                                    undo it: the touched files get their base content and mtime back
    bench.py snapshot BUCKET_DIR OUT                        record (inode, mtime, size) of every object s3s-fs holds
    bench.py check SRC BUCKET_DIR SNAPSHOT                  compare the bucket with the source, count objects written
    bench.py run [--server-pid PID]... RESULT LOG -- CMD... run CMD, record wall time, CPU, peak RSS and exit code,
                                                            and the CPU the server processes used meanwhile
    bench.py report RESULTS --mode sync|memory ...          print the tables, ratios and targets
    bench.py free-port                                      print a free TCP port on 127.0.0.1
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time

# Every file of a data set gets this modification time (2024-01-01 00:00:00 UTC), so the data set is the same
# byte for byte and stat for stat on every machine and every run. It lies in the past, so tools that compare
# the local mtime with the object's LastModified (aws s3 sync, s5cmd) see an unchanged file as older than its
# upload, as they would in real use.
BASE_MTIME = 1704067200

# The sync data set: 5,000 files of 4 KiB in 50 directories, plus 8 files of 32 MiB (issue 5, section 8).
SMALL_DIRS = 50
SMALL_PER_DIR = 100
SMALL_SIZE = 4096
LARGE_COUNT = 8
LARGE_SIZE = 32 * 1024 * 1024
# The 1% change: 50 of the 5,000 small files, chosen by a fixed seed.
TOUCHED_COUNT = 50

# The memory data set: tiny files (16 bytes) in directories of 1,000, to keep generation and uploads quick;
# what is measured is the cost per file of walking, listing and indexing, not of transferring bytes.
MEMORY_PER_DIR = 1000
MEMORY_SIZE = 16

# The small-file data set (scripts/bench-small-files.sh): files of 10 KiB in directories of 1,000, uploaded
# into a sink that discards them, to measure objects per second.
SMALL_FILE_SIZE = 10 * 1024

# Bump when the layout or contents change, so an old data set on disk is regenerated rather than reused.
DATASET_VERSION = 1


def die(message):
    print(f"bench.py: {message}", file=sys.stderr)
    sys.exit(1)


def random_bytes(seed, size):
    """Incompressible bytes, the same for the same seed on every machine (random.Random seeds a str by SHA-512)."""
    return random.Random(seed).randbytes(size)


def small_paths():
    return [f"dir-{d:02d}/file-{i:03d}.bin" for d in range(SMALL_DIRS) for i in range(SMALL_PER_DIR)]


def large_paths():
    return [f"large/large-{i}.bin" for i in range(LARGE_COUNT)]


def touched_paths():
    return sorted(random.Random("bench-sync touched set").sample(small_paths(), TOUCHED_COUNT))


def write_file(path, data, mtime):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))


def stamp_path(root):
    # The stamp lives beside the data set, not inside it, or every tool would upload it.
    return root.rstrip("/") + ".complete"


def cmd_dataset(args):
    root = os.path.abspath(args.dir)
    if args.kind == "sync":
        spec = f"sync v{DATASET_VERSION}: {SMALL_DIRS}x{SMALL_PER_DIR}x{SMALL_SIZE} + {LARGE_COUNT}x{LARGE_SIZE}"
    elif args.kind == "small":
        spec = f"small v{DATASET_VERSION}: {args.files}x{SMALL_FILE_SIZE} in dirs of {MEMORY_PER_DIR}"
    else:
        spec = f"memory v{DATASET_VERSION}: {args.files}x{MEMORY_SIZE} in dirs of {MEMORY_PER_DIR}"
    stamp = stamp_path(root)
    if os.path.isdir(root) and os.path.isfile(stamp) and open(stamp).read().strip() == spec:
        print(f"reusing {root} ({spec})", file=sys.stderr)
        return
    if os.path.exists(root):
        # An incomplete or outdated data set: start again from nothing, so no stray file is left behind.
        subprocess.run(["rm", "-rf", "--", root], check=True)
    if os.path.exists(stamp):
        os.remove(stamp)
    print(f"generating {root} ({spec}) ...", file=sys.stderr)
    started = time.perf_counter()
    if args.kind == "sync":
        for rel in small_paths():
            write_file(os.path.join(root, rel), random_bytes("small " + rel, SMALL_SIZE), BASE_MTIME)
        for rel in large_paths():
            write_file(os.path.join(root, rel), random_bytes("large " + rel, LARGE_SIZE), BASE_MTIME)
    elif args.kind == "small":
        for i in range(args.files):
            rel = f"d{i // MEMORY_PER_DIR:04d}/f{i:07d}.bin"
            write_file(os.path.join(root, rel), random_bytes("small-file " + rel, SMALL_FILE_SIZE), BASE_MTIME)
    else:
        for i in range(args.files):
            rel = f"d{i // MEMORY_PER_DIR:04d}/f{i:07d}.txt"
            # 16 bytes: the file's index, zero-padded, and a newline; distinct for every file.
            write_file(os.path.join(root, rel), f"{i:015d}\n".encode(), BASE_MTIME)
    with open(stamp, "w") as f:
        f.write(spec + "\n")
    print(f"generated in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def cmd_touch(args):
    # The new mtime is "now": later than the upload of the unchanged file, as a real edit would be.
    now = time.time()
    for rel in touched_paths():
        write_file(os.path.join(args.dir, rel), random_bytes("touched " + rel, SMALL_SIZE), now)
    print(f"changed the content and mtime of {TOUCHED_COUNT} files", file=sys.stderr)


def cmd_restore(args):
    for rel in touched_paths():
        write_file(os.path.join(args.dir, rel), random_bytes("small " + rel, SMALL_SIZE), BASE_MTIME)


def walk(root):
    """Relative path -> os.stat_result of every regular file under root."""
    found = {}
    if not os.path.isdir(root):
        return found
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            found[os.path.relpath(full, root)] = os.stat(full)
    return found


def cmd_snapshot(args):
    # s3s-fs keeps each object as a plain file BUCKET_ROOT/KEY, written anew (new inode) on every PUT or
    # completed multipart upload; its metadata lives elsewhere (ROOT/.bucket-*.json), not under the bucket.
    snap = {rel: [st.st_ino, st.st_mtime_ns, st.st_size] for rel, st in walk(args.bucket_dir).items()}
    with open(args.out, "w") as f:
        json.dump(snap, f)


def same_content(a, b, size):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


def cmd_check(args):
    """Prints JSON: objects, written (new or rewritten since the snapshot), and what differs from the source."""
    with open(args.snapshot) as f:
        before = json.load(f)
    source = walk(args.src)
    bucket = walk(args.bucket_dir)
    missing = sorted(set(source) - set(bucket))
    extra = sorted(set(bucket) - set(source))
    differing = []
    for rel in sorted(set(source) & set(bucket)):
        if source[rel].st_size != bucket[rel].st_size or not same_content(
            os.path.join(args.src, rel), os.path.join(args.bucket_dir, rel), source[rel].st_size
        ):
            differing.append(rel)
    written = 0
    for rel, st in bucket.items():
        old = before.get(rel)
        if old is None or old[0] != st.st_ino or old[1] != st.st_mtime_ns or old[2] != st.st_size:
            written += 1
    ok = not (missing or extra or differing)
    print(
        json.dumps(
            {
                "ok": ok,
                "objects": len(bucket),
                "written": written,
                "missing": missing[:5],
                "missing_count": len(missing),
                "extra": extra[:5],
                "extra_count": len(extra),
                "differing": differing[:5],
                "differing_count": len(differing),
            }
        )
    )


def process_cpu_seconds(pid):
    """User + system CPU seconds a process has used, from /proc; None without /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # After the ") " that closes the command name, utime and stime are the 12th and 13th fields.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def cmd_run(args):
    """Runs the command with its output in LOG; writes 'wall cpu maxrss_kib exit server_cpu' to RESULT."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        die("run: no command given")
    def servers_cpu():
        # The server and the proxy in front of it: their sum is what answering the tool cost.
        used = [process_cpu_seconds(pid) for pid in args.server_pid or []]
        return sum(used) if used and None not in used else None

    server_before = servers_cpu()
    with open(args.log, "ab") as log:
        log.write(("$ " + " ".join(command) + "\n").encode())
        log.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        # wait4 gives this child's own resource usage: its peak RSS and CPU time, not the benchmark's.
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    server_after = servers_cpu()
    server_cpu = server_after - server_before if server_before is not None and server_after is not None else -1
    with open(args.result, "w") as f:
        # ru_maxrss is in KiB on Linux.
        f.write(f"{wall:.3f} {usage.ru_utime + usage.ru_stime:.3f} {usage.ru_maxrss} {proc.returncode} {server_cpu:.3f}\n")


def cmd_free_port(_args):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


# --- report ---------------------------------------------------------------------------------------

PHASES = {
    "sync": [("initial", "initial upload"), ("noop", "no-op re-sync"), ("changed", "1% changed")],
    "memory": [("initial", "initial upload"), ("noop", "no-op re-sync")],
}
# The targets of issue 5: s3rec's median time as a fraction of the best peer's, per phase.
# Issue 16's targets, meant at 1,000 keys per page and 25 ms per request (`--latency-ms 25`).
TIME_TARGETS = {"initial": 0.5, "noop": 0.25, "changed": 0.25}
MEMORY_TARGET_MIB = 150


def load_results(path):
    """tool -> phase -> list of run dicts. The file is TSV: tool, run, phase, wall, cpu, rss_kib, exit, server_cpu, verify JSON."""
    results = {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            tool, run, phase, wall, cpu, rss, code, server_cpu, verify = line.rstrip("\n").split("\t")
            results.setdefault(tool, {}).setdefault(phase, []).append(
                {
                    "run": int(run),
                    "wall": float(wall),
                    "cpu": float(cpu),
                    "rss_mib": int(rss) / 1024,
                    "exit": int(code),
                    "server_cpu": float(server_cpu),
                    "verify": json.loads(verify),
                }
            )
    return results


def failed(run):
    return run["exit"] != 0 or not run["verify"].get("ok", False)


def median_of(runs, key):
    good = [r[key] for r in runs if not failed(r)]
    return statistics.median(good) if good else None


def fmt(value, digits=2, suffix=""):
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def cmd_report(args):
    results = load_results(args.results)
    phases = PHASES[args.mode]
    tools = [t for t in args.tools.split() if t in results]
    peers = [t for t in tools if t != "s3rec"]
    problems = []

    def written_summary(runs):
        counts = sorted({r["verify"].get("written", 0) for r in runs})
        return "/".join(str(c) for c in counts)

    print(args.title)
    print()
    if args.mode == "sync":
        header = "| tool | " + " | ".join(f"{label} (s)" for _p, label in phases) + " |"
    else:
        header = "| tool | files | initial upload (s) | no-op re-sync (s) | no-op peak RSS (MiB) | initial peak RSS (MiB) |"
    print(header)
    print("|---" + "|---:" * (header.count("|") - 2) + "|")
    medians = {}
    for tool in tools:
        cells = []
        for phase, _label in phases:
            runs = results[tool].get(phase, [])
            m = median_of(runs, "wall")
            medians[(tool, phase)] = m
            bad = [r for r in runs if failed(r)]
            for r in bad:
                why = f"exit {r['exit']}" if r["exit"] != 0 else "content differs from the source"
                problems.append(f"{tool} {phase} (run {r['run']}): {why}; {json.dumps(r['verify'])}")
            cells.append("FAILED" if m is None and runs else fmt(m))
        if args.mode == "sync":
            print(f"| {tool} | " + " | ".join(cells) + " |")
        else:
            noop_rss = median_of(results[tool].get("noop", []), "rss_mib")
            init_rss = median_of(results[tool].get("initial", []), "rss_mib")
            objects = max((r["verify"].get("objects", 0) for r in results[tool].get("initial", [])), default=0)
            print(f"| {tool} | {objects} | {cells[0]} | {cells[1]} | {fmt(noop_rss, 1)} | {fmt(init_rss, 1)} |")
    print()

    # Details: CPU time of the tool and of the server, peak RSS, and how many objects each phase wrote (a
    # no-op must write none, the 1% change exactly the changed files).
    print("Per phase (medians): tool CPU (user + system, s) / server CPU (s3s-fs and the proxy, s) / tool peak RSS (MiB) / objects written")
    print()
    print("| tool | " + " | ".join(label for _p, label in phases) + " |")
    print("|---" + "|---:" * len(phases) + "|")
    for tool in tools:
        cells = []
        for phase, _label in phases:
            runs = results[tool].get(phase, [])
            server = median_of(runs, "server_cpu")
            cells.append(
                f"{fmt(median_of(runs, 'cpu'))} / {fmt(server) if server is not None and server >= 0 else '?'} / "
                f"{fmt(median_of(runs, 'rss_mib'), 0)} / {written_summary(runs) if runs else '-'}"
            )
        print(f"| {tool} | " + " | ".join(cells) + " |")
    print()

    # Ratios and targets.
    status = 0
    if "s3rec" not in tools:
        print(f"s3rec: {args.s3rec_note or 'not measured'}; no ratios.")
    else:
        for phase, label in phases:
            peer_times = [(medians[(p, phase)], p) for p in peers if medians.get((p, phase)) is not None]
            mine = medians.get(("s3rec", phase))
            if not peers:
                # Only s3rec was asked for (the memory mode's default): nothing to compare with.
                print(f"{label}: s3rec {mine:.2f}s (no peer measured, no ratio)" if mine is not None else f"{label}: s3rec failed")
                if mine is None:
                    status = 1
                continue
            if not peer_times or mine is None:
                print(f"{label}: no ratio (s3rec or every peer failed)")
                status = 1
                continue
            best, best_tool = min(peer_times)
            ratio = mine / best
            target = TIME_TARGETS.get(phase) if args.mode == "sync" else None
            verdict = ""
            if target is not None:
                ok = ratio <= target
                verdict = f", target <= {target}x: {'PASS' if ok else 'FAIL'}"
                if not ok:
                    status = 1
            print(f"{label}: s3rec {mine:.2f}s / best peer {best_tool} {best:.2f}s = {ratio:.2f}x{verdict}")
        if args.mode == "memory":
            rss = median_of(results["s3rec"].get("noop", []), "rss_mib")
            if rss is None:
                print(f"no-op peak RSS: no measurement (the s3rec run failed), target < {MEMORY_TARGET_MIB} MiB: FAIL")
                status = 1
            else:
                ok = rss < MEMORY_TARGET_MIB
                print(f"no-op peak RSS: s3rec {rss:.1f} MiB, target < {MEMORY_TARGET_MIB} MiB: {'PASS' if ok else 'FAIL'}")
                if not ok:
                    status = 1
    if problems:
        print("\nFAILED runs (their times are left out of the medians):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        status = 1
    sys.exit(status)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("dataset")
    p.add_argument("dir")
    p.add_argument("--kind", choices=["sync", "memory", "small"], required=True)
    p.add_argument("--files", type=int, default=200_000)
    p.set_defaults(fn=cmd_dataset)
    p = sub.add_parser("touch")
    p.add_argument("dir")
    p.set_defaults(fn=cmd_touch)
    p = sub.add_parser("restore")
    p.add_argument("dir")
    p.set_defaults(fn=cmd_restore)
    p = sub.add_parser("snapshot")
    p.add_argument("bucket_dir")
    p.add_argument("out")
    p.set_defaults(fn=cmd_snapshot)
    p = sub.add_parser("check")
    p.add_argument("src")
    p.add_argument("bucket_dir")
    p.add_argument("snapshot")
    p.set_defaults(fn=cmd_check)
    p = sub.add_parser("run")
    p.add_argument("result")
    p.add_argument("log")
    p.add_argument("--server-pid", type=int, action="append")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("report")
    p.add_argument("results")
    p.add_argument("--mode", choices=["sync", "memory"], required=True)
    p.add_argument("--tools", required=True)
    p.add_argument("--title", default="")
    p.add_argument("--s3rec-note", default="")
    p.set_defaults(fn=cmd_report)
    p = sub.add_parser("free-port")
    p.set_defaults(fn=cmd_free_port)
    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
