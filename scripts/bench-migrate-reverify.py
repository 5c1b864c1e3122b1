#!/usr/bin/env python3
"""Measures what hashing every local copy again costs, as `migrate run --confirm-delete` now does right
before it deletes a bucket's objects.

It makes a project whose migration inventory holds N verified single-part objects (rows inserted
straight into the state database, the way the 1M-row status measurement was made) with their N files
on disk, then times `s3rec migrate verify`, which runs the same re-check (`migrate::run::recheck`) the
delete phase runs. No AWS endpoint is contacted.

    scripts/bench-migrate-reverify.py --binary target/release/s3rec --files 100000 --size 1024

Prints the set-up and the wall time of the verify. Standard library only.
"""

import argparse
import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=1024, help="bytes per file")
    parser.add_argument("--workdir", default=None, help="where the project goes (a temporary one by default)")
    args = parser.parse_args()

    work = args.workdir or tempfile.mkdtemp(prefix="s3rec-reverify-")
    os.makedirs(os.path.join(work, "environments"), exist_ok=True)
    with open(os.path.join(work, "environments", "bench.yaml"), "w") as f:
        f.write(
            "environment: bench\naws:\n  region: us-east-1\n  endpoint_url: http://127.0.0.1:9\n"
            "  force_path_style: true\nbuckets:\n  old:\n    name: bench-old\n"
            "migrations:\n  retire:\n    bucket: old\n    destination: archive\n"
        )
    env = dict(os.environ, NO_COLOR="1")
    # `status` creates and migrates the state database without contacting AWS.
    subprocess.run([args.binary, "migrate", "-e", "bench", "status"], cwd=work, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    db = sqlite3.connect(os.path.join(work, ".s3rec", "bench.db"))
    db.execute(
        "INSERT OR REPLACE INTO migration_buckets (migration, bucket, prefix, versions, scanned_at) "
        "VALUES ('retire', 'bench-old', '', 'current', '2026-01-01T00:00:00Z')"
    )
    started = time.monotonic()
    rows = []
    for i in range(args.files):
        rel = f"d{i % 1000:03d}/f{i:07d}.bin"
        body = i.to_bytes(8, "little") * (args.size // 8) + b"x" * (args.size % 8)
        path = os.path.join(work, "archive", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(body)
        rows.append(("retire", "bench-old", rel, "null", 1, 0, len(body), hashlib.md5(body).hexdigest(), 0,
                     "STANDARD", rel, "none", "verified", "md5"))
    db.executemany(
        "INSERT OR REPLACE INTO migration_objects (migration, bucket, key, version_id, is_latest, delete_marker, "
        "size, etag, last_modified_ms, storage_class, local_path, restore, status, verified_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.close()
    print(f"set up {args.files} files of {args.size} bytes in {time.monotonic() - started:.1f}s under {work}")
    # Cold-ish cache is not attempted (no root needed): the files were just written, so they are cached.
    started = time.monotonic()
    done = subprocess.run([args.binary, "migrate", "-e", "bench", "retire", "verify"], cwd=work, env=env,
                          capture_output=True, text=True)
    elapsed = time.monotonic() - started
    print(done.stdout.strip())
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        sys.exit(done.returncode)
    print(f"verify of {args.files} files: {elapsed:.1f}s ({args.files / elapsed:.0f} files/s)")


if __name__ == "__main__":
    main()
