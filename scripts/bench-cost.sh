#!/usr/bin/env bash
# `s3rec cost` over a million object versions: wall time, CPU time and peak RSS of the real binary listing
# a generated bucket through the SDK, aggregating, projecting 12 months and printing the JSON report.
#
#   scripts/bench-cost.sh [--versions N] [--runs R] [--no-build | --binary PATH]
#
# The bucket is `s3rec-bench-server versions --count N` (scripts/bench-server, built into
# target/bench-tools): a loopback server that answers ListObjectVersions with pages of 1,000 entries
# (AWS's cap) generated from their index: four entries per key, newest first, every tenth key's newest
# a delete marker, six storage classes, sizes from 1 KiB to 128 MiB and ages up to two years. It stands
# in for S3, not for an emulator: it keeps nothing and checks no signature, so the figures are s3rec's
# own cost of requesting, parsing and aggregating the pages (moto would take hours to list a million
# versions). The manifest gives the bucket a lifecycle rule (a transition and a noncurrent expiration),
# so the projection and the recommendations run over real groups.
#
# Each run's report is checked: current and noncurrent versions and delete markers must be what the
# generator made. The summary gives each figure's median and spread (min - max) over the runs; the
# server's CPU is not in s3rec's CPU time, but it is in the wall time.
#
# Options:
#   --versions N   entries in the bucket (default 1000000)
#   --runs R       runs to measure (default 3)
#   --no-build     use the existing target/release/s3rec instead of running `cargo build --release`
#   --binary PATH  measure this s3rec binary (a debug build, another commit's) instead of building one
set -euo pipefail

versions=1000000
runs=3
build=1
binary=""

die() {
    echo "bench-cost: $*" >&2
    exit 1
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --versions)
        [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || die "--versions needs a positive integer"
        versions="$2"
        shift 2
        ;;
    --runs)
        [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer"
        runs="$2"
        shift 2
        ;;
    --no-build)
        build=0
        shift
        ;;
    --binary)
        [[ $# -ge 2 && -x "$2" ]] || die "--binary needs an executable s3rec"
        binary="$(cd -- "$(dirname -- "$2")" && pwd -P)/$(basename -- "$2")"
        build=0
        shift 2
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time -v) is needed for peak RSS: apt-get install time"

repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=scripts/bench-sync/common.sh
source "$repo_root/scripts/bench-sync/common.sh"
work="$repo_root/target/bench-cost"
server_build="$repo_root/target/bench-tools/server-build"
rm -rf "$work"
mkdir -p "$work/logs" "$work/project/environments"
build_bench_binaries "$repo_root" "$server_build" "$work" "$build" 1 "$binary" || die "a build failed"

"$server_build/release/s3rec-bench-server" versions --count "$versions" >"$work/server.endpoint" \
    2>"$work/logs/server.log" </dev/null &
server_pid=$!
trap 'status=$?; stop_server "$server_pid"; exit "$status"' EXIT
endpoint="$(wait_for_endpoint "$work/server.endpoint" "$server_pid" "the versions server" "$work/logs/server.log")" ||
    die "no server"

cat >"$work/project/environments/bench.yaml" <<YAML
environment: bench
aws:
  region: us-east-1
  endpoint_url: $endpoint
  force_path_style: true
buckets:
  data:
    name: versions
    versioning: enabled
    lifecycle:
      - id: tidy
        transitions:
          - days: 30
            storage_class: STANDARD_IA
        noncurrent_version_expiration:
          days: 90
YAML

# What the generator makes: four entries per key, every tenth key's newest a delete marker.
keys=$(((versions + 3) / 4))
markers=$((keys / 10))
current=$((keys - markers))
noncurrent=$((versions - keys))

results="$work/results.tsv"
: >"$results"
for run in $(seq 1 "$runs"); do
    AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench NO_COLOR=1 \
        /usr/bin/time -v -o "$work/time-$run.txt" \
        "$work/s3rec" --chdir "$work/project" cost -e bench --format json >"$work/report-$run.json" \
        2>"$work/logs/cost-$run.log" || die "run $run failed: see $work/logs/cost-$run.log"
    python3 - "$work/report-$run.json" "$current" "$noncurrent" "$markers" <<'PY' || die "run $run: wrong counts"
import json, sys
bucket = json.load(open(sys.argv[1]))["buckets"][0]
got = (bucket["current"]["objects"], bucket["noncurrent"]["objects"], bucket["delete_markers"])
want = tuple(int(x) for x in sys.argv[2:5])
if got != want:
    sys.exit(f"counted {got}, the generator made {want}")
PY
    wall="$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/time-$run.txt")"
    user="$(awk -F': ' '/User time/ { print $2 }' "$work/time-$run.txt")"
    sys="$(awk -F': ' '/System time/ { print $2 }' "$work/time-$run.txt")"
    rss="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-$run.txt")"
    cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')"
    printf '%s\t%s\t%s\t%s\n' "$run" "$wall" "$cpu" "$rss" >>"$results"
    printf '    run %d: %8.2fs wall  %7.2fs CPU  peak RSS %4d MiB\n' "$run" "$wall" "$cpu" $((rss / 1024)) >&2
done

python3 - "$results" "$versions" <<'PY'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines()]
def summary(column, scale=1.0, unit=""):
    values = [float(r[column]) * scale for r in rows]
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f} - {max(values):.2f})"
print(f"s3rec cost over {int(sys.argv[2]):,} versions, {len(rows)} runs: median (min - max)")
print(f"  wall time   {summary(1, unit=' s')}")
print(f"  CPU time    {summary(2, unit=' s')}")
print(f"  peak RSS    {summary(3, 1 / 1024, ' MiB')}")
PY
