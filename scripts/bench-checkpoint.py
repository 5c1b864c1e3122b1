#!/usr/bin/env python3
"""Measures what a checkpoint of the S3 state backend costs when the state is large.

    scripts/bench-checkpoint.py [--rows N] [--repeat R] [--binary PATH] [--keep]

1. Starts a private moto server (from .venv-moto, which `scripts/moto.sh install` creates) on a free port.
2. Makes a project whose state holds N sync-index rows (default 1,000,000), shaped like a backup of
   office files: keys of ~45 characters under a few hundred prefixes, a size, an mtime, an ETag, a time.
   The rows are written straight into the state database that `s3rec plan` created, in one transaction.
3. Switches the environment to `state.backend: s3` and uploads the state with `s3rec state push`
   (timed: lock, conditional GET, snapshot, conditional PUT, release).
4. Runs `s3rec sync` of a 10-file mapping R times (default 3) on top of that state: each run changes the
   state (its run row, its index rows), so it ends with a push of the whole database, exactly what a
   checkpoint does. The push's own log line gives the snapshot (`VACUUM INTO`) and upload times.
5. Prints the database size, the snapshot size, and each run's snapshot, upload and wall times, with
   s3rec's CPU time.

moto keeps objects in memory and answers on loopback: the upload time is this machine's, not a
region's. With AWS, add the transfer time of the snapshot at the link's speed.
"""

import argparse
import json
import os
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    server = REPO / ".venv-moto" / "bin" / "moto_server"
    if not server.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "moto.sh"), "install"], check=True)
    port = free_port()
    log = open(tempfile.mktemp(prefix="moto-", suffix=".log"), "w")
    proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("bench-checkpoint: moto did not start")


def run(binary, project, args, env):
    """Runs s3rec; returns (wall seconds, CPU seconds, stdout, stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run([binary, "--chdir", str(project), *args], env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"bench-checkpoint: s3rec {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return wall, cpu, done.stdout, done.stderr


def manifest(endpoint, backend, source):
    state = "state:\n  backend: s3\n  bucket: ckpt-state\n  checkpoint_interval: 60s\n" if backend == "s3" else ""
    return (
        f"environment: ckpt\naws:\n  region: us-east-1\n  endpoint_url: {endpoint}\n  force_path_style: true\n"
        f"{state}buckets:\n  data:\n    name: ckpt-data\nsync:\n  files:\n    source: {source}\n    bucket: data\n"
    )


def fill(db, rows):
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    batch = []
    with conn:
        for i in range(rows):
            key = f"backup/dept-{i % 50:02d}/{2015 + i % 10}/{1 + i % 12:02d}/file-{i:07d}.pdf"
            batch.append(("ckpt-data", key, "files", 1000 + i % 100_000, 1_700_000_000_000 + i, None,
                          f"{i:032x}", "2026-01-01T00:00:00.000Z"))
            if len(batch) == 50_000:
                conn.executemany("INSERT INTO sync_index VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
                batch.clear()
        conn.executemany("INSERT INTO sync_index VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "s3rec"))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not Path(args.binary).exists():
        sys.exit(f"bench-checkpoint: no binary at {args.binary}: run `cargo build --release` first")

    moto, endpoint = start_moto()
    work = Path(tempfile.mkdtemp(prefix="s3rec-bench-checkpoint-"))
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
               NO_COLOR="1", RUST_LOG="s3rec=info")
    env.pop("AWS_PROFILE", None)
    try:
        project = work / "project"
        source = work / "files"
        (project / "environments").mkdir(parents=True)
        source.mkdir()
        for i in range(10):
            (source / f"f{i}.txt").write_text(f"file {i}\n")
        env_file = project / "environments" / "ckpt.yaml"
        env_file.write_text(manifest(endpoint, "local", source))
        run(args.binary, project, ["apply", "-e", "ckpt", "--auto-approve"], env)
        db = project / ".s3rec" / "ckpt.db"
        started = time.monotonic()
        fill(db, args.rows)
        print(f"filled {args.rows:,} index rows in {time.monotonic() - started:.1f}s; database {db.stat().st_size:,} bytes",
              file=sys.stderr)

        import boto3  # from .venv-moto when run with its python, else the system's
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket="ckpt-state")
        s3.put_bucket_versioning(Bucket="ckpt-state", VersioningConfiguration={"Status": "Enabled"})
        env_file.write_text(manifest(endpoint, "s3", source))
        wall, cpu, out, _ = run(args.binary, project, ["state", "push", "-e", "ckpt"], env)
        size = s3.head_object(Bucket="ckpt-state", Key="s3rec/ckpt.db")["ContentLength"]
        results = {"rows": args.rows, "database_bytes": db.stat().st_size, "snapshot_bytes": size,
                   "push": {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}, "checkpoints": []}
        print(f"state push: {wall:.2f}s wall, {cpu:.2f}s CPU; remote state {size:,} bytes", file=sys.stderr)

        pattern = re.compile(r"pushed the state to \S+ \((\d+) bytes\): snapshot ([\d.]+)s, upload ([\d.]+)s")
        for i in range(args.repeat):
            (source / f"new{i}.txt").write_text(f"new {i}\n")
            wall, cpu, _, err = run(args.binary, project, ["sync", "-e", "ckpt"], env)
            found = pattern.findall(err)
            if not found:
                sys.exit(f"bench-checkpoint: the sync did not log its push:\n{err}")
            pushed, snap, up = found[-1]
            results["checkpoints"].append({"bytes": int(pushed), "snapshot_s": float(snap), "upload_s": float(up),
                                           "sync_wall_s": round(wall, 3), "sync_cpu_s": round(cpu, 3)})
            print(f"sync {i + 1}: push of {int(pushed):,} bytes: snapshot {snap}s + upload {up}s; "
                  f"the whole sync {wall:.2f}s wall, {cpu:.2f}s CPU", file=sys.stderr)
        print(json.dumps(results, indent=2))
    finally:
        moto.kill()
        moto.wait()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
