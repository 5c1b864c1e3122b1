#!/usr/bin/env bash
# Benchmarks `s3rec validate` (schema, semantic checks and security findings, offline) on one manifest of
# N fully configured buckets.
#
#   scripts/bench-validate.sh [--buckets N] [--repeat R] [--binary PATH]
#
# Writes the manifest into a temporary project: N buckets with versioning, SSE-KMS with a bucket key,
# public access block, ownership, tags, a lifecycle rule, a TLS-only policy plus a raw statement for a
# role, access logging into one shared log bucket (whose delivery statement s3rec generates), and one
# IAM role with grants on every bucket. Runs `s3rec validate -e bench --format json` R times and prints
# wall and CPU time (user + system) per run, the median and the spread (max - min).
# The binary is target/release/s3rec (built with `cargo build --release` unless --binary is given).
set -euo pipefail

buckets=200
repeat=3
binary=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --buckets) buckets="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "$binary" ]]; then
  (cd "$root" && cargo build --release --locked --quiet)
  binary="$root/target/release/s3rec"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/environments"
python3 - "$buckets" > "$work/environments/bench.yaml" <<'PY'
import sys
n = int(sys.argv[1])
print("environment: bench\naws: {region: us-east-1}\nbuckets:")
print("  logs:\n    name: bench-logs-${env}\n    versioning: enabled\n    policy: {deny_insecure_transport: true}")
print("    lifecycle:\n      - {id: parts, abort_incomplete_multipart_upload_days: 7, noncurrent_version_expiration: {days: 30}}")
for i in range(n):
    print(f"""  b{i:03d}:
    name: bench-{i:03d}-${{env}}
    versioning: enabled
    encryption: {{algorithm: "aws:kms", bucket_key: true}}
    public_access_block: {{}}
    object_ownership: BucketOwnerEnforced
    tags: {{team: t{i % 7}, tier: gold}}
    lifecycle:
      - id: keep
        transitions: [{{days: 30, storage_class: STANDARD_IA}}]
        noncurrent_version_expiration: {{days: 30}}
        abort_incomplete_multipart_upload_days: 7
    policy:
      deny_insecure_transport: true
      statements:
        - Sid: App
          Effect: Allow
          Principal: {{AWS: "${{role.app.arn}}"}}
          Action: [s3:GetObject, s3:PutObject]
          Resource: "${{bucket.b{i:03d}.arn}}/data/*"
    logging: {{target_bucket: logs, prefix: b{i:03d}/}}""")
print("iam:\n  roles:\n    app:\n      trust: {services: [ec2.amazonaws.com]}\n      grants:")
for i in range(n):
    print(f"        - {{bucket: b{i:03d}, prefix: data/, access: [read, write, list]}}")
PY

echo "s3rec validate of $buckets buckets ($(wc -l < "$work/environments/bench.yaml") manifest lines), $repeat runs" >&2
walls=()
cpus=()
for _ in $(seq "$repeat"); do
  out="$( { /usr/bin/time -f '%e %U %S' "$binary" --chdir "$work" validate -e bench --format json > "$work/out.json"; } 2>&1 | tail -1 )"
  read -r wall user sys <<<"$out"
  cpu="$(python3 -c "print(f'{$user + $sys:.2f}')")"
  walls+=("$wall"); cpus+=("$cpu")
  echo "run: wall ${wall}s, cpu ${cpu}s" >&2
done
python3 - "$work/out.json" "${walls[*]}" "${cpus[*]}" <<'PY'
import json, statistics, sys
report = json.load(open(sys.argv[1]))
walls = [float(x) for x in sys.argv[2].split()]
cpus = [float(x) for x in sys.argv[3].split()]
findings = sum(len(f.get("findings", [])) for f in report["files"])
print(f"valid: {report['valid']}, findings: {findings}")
print(f"wall: median {statistics.median(walls):.2f}s, spread {max(walls) - min(walls):.2f}s ({', '.join(f'{w:.2f}' for w in walls)})")
print(f"cpu:  median {statistics.median(cpus):.2f}s, spread {max(cpus) - min(cpus):.2f}s ({', '.join(f'{c:.2f}' for c in cpus)})")
PY
