#!/usr/bin/env bash
# Small-file throughput: how many objects per second `s3rec sync` and its peers upload when the server
# costs almost nothing.
#
#   scripts/bench-small-files.sh [--files N] [--repeat R] [--tools "s3rec s5cmd"] [--no-build]
#
# The data set is N files of 10 KiB (default 20,000) in directories of 1,000, generated once into
# target/bench-sync/data-small-N. The server is `s3rec-bench-server sink` (scripts/bench-server, built into
# target/bench-tools): it reads
# every request body and drops it, answers each PUT with an ETag and every listing as empty, and checks no
# signature, so the tools' own cost per object (reading, checksumming, signing, HTTP) is what is measured.
# Each tool uploads the whole set R times (a fresh "bucket" each time: the sink keeps nothing, so every
# run is an initial upload); the report gives the median wall time, objects per second, the tool's CPU
# time and the sink's, and the tool's CPU per object. A run fails unless the sink answered exactly N PUTs.
#
# The peers come from the same places as in scripts/bench-sync.sh (.venv-bench, Debian's rclone); run that
# script once to install them. Target (issue 16): s3rec at least 4,000 objects per second.
#
# Options:
#   --files N      files in the data set (default 20000)
#   --repeat R     runs per tool; the median is reported (default 3)
#   --tools LIST   tools to measure (default "s3rec s5cmd"; also known: rclone, aws)
#   --no-build     use the existing target/release/s3rec instead of running `cargo build --release`
set -euo pipefail

TARGET_OBJECTS_PER_SECOND=4000

files=20000
repeat=3
tools="s3rec s5cmd"
build=1

die() {
    echo "bench-small-files: $*" >&2
    exit 1
}
say() {
    echo "==> $*" >&2
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --files)
        [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || die "--files needs a positive integer"
        files="$2"
        shift 2
        ;;
    --repeat)
        [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || die "--repeat needs a positive integer"
        repeat="$2"
        shift 2
        ;;
    --tools)
        [[ $# -ge 2 ]] || die "--tools needs a list"
        tools="${2//,/ }"
        shift 2
        ;;
    --no-build)
        build=0
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for t in $tools; do
    case "$t" in
    s3rec | s5cmd | rclone | aws) ;;
    *) die "--tools: unknown tool '$t' (known: s3rec s5cmd rclone aws)" ;;
    esac
done

repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=scripts/bench-sync/common.sh
source "$repo_root/scripts/bench-sync/common.sh"
init_sink_run "$repo_root" small-run

# shellcheck disable=SC2086 # the tool list is meant to split into words
check_peers "$venv" $tools || die "a peer is missing"
wants_s3rec=0
[[ " $tools " == *" s3rec "* ]] && wants_s3rec=1
build_bench_binaries "$repo_root" "$server_build" "$work" "$build" "$wants_s3rec" || die "a build failed"
server_bin="$server_build/release/s3rec-bench-server"

data="$bench_dir/data-small-$files"
"$py" "$helper" dataset "$data" --kind small --files "$files"

trap 'echo "bench-small-files: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
start_sink "$server_bin" "$work" || die "no sink"
sink_pid="$SINK_PID"
endpoint="$SINK_ENDPOINT"

command_of() {
    local tool="$1" bucket="$2" project="$work/projects/$2"
    case "$tool" in
    s3rec)
        write_bench_project "$project" "$endpoint" "$bucket" "$data" false
        printf '%s\n' "$work/s3rec" --chdir "$project" sync -e bench data
        ;;
    s5cmd) printf '%s\n' "$venv/bin/s5cmd" --endpoint-url "$endpoint" sync "$data/" "s3://$bucket/" ;;
    rclone) printf '%s\n' rclone copy "$data" "bench:$bucket" ;;
    aws) printf '%s\n' "$venv/bin/aws" --endpoint-url "$endpoint" s3 sync --no-progress "$data" "s3://$bucket" ;;
    esac
}

results="$work/results.tsv"
: >"$results"
for ((r = 1; r <= repeat; r++)); do
    for tool in $tools; do
        bucket="small-$tool-$r"
        mapfile -t cmd < <(command_of "$tool" "$bucket")
        before="$(sink_puts "$py" "$endpoint")"
        sync
        "$py" "$helper" run --server-pid "$sink_pid" "$work/result.txt" "$work/logs/$tool-$r.log" -- "${cmd[@]}"
        after="$(sink_puts "$py" "$endpoint")"
        read -r wall cpu rss code sink_cpu <"$work/result.txt"
        written=$((after - before))
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$r" "$wall" "$cpu" "$sink_cpu" "$code" "$written" >>"$results"
        printf '    %-6s run %s %8.2fs  CPU %6.2fs  sink CPU %6.2fs  %d PUTs%s\n' "$tool" "$r" "$wall" "$cpu" "$sink_cpu" \
            "$written" "$([[ "$code" == 0 && "$written" == "$files" ]] || echo "  FAILED (exit $code, see $work/logs/$tool-$r.log)")" >&2
    done
done

echo
echo "$(date -u +%Y-%m-%d) | small files: $files x 10 KiB into a discarding sink on loopback, $(nproc) CPUs, median of $repeat run(s)"
"$py" - "$results" "$files" "$tools" "$TARGET_OBJECTS_PER_SECOND" <<'PY'
import statistics, sys
path, files, tools, target = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), int(sys.argv[4])
rows = [line.rstrip("\n").split("\t") for line in open(path)]
status = 0
print()
print("| tool | wall (s) | objects/s | tool CPU (s) | sink CPU (s) | tool CPU per object (µs) | runs (wall, s) |")
print("|---|---:|---:|---:|---:|---:|---|")
medians = {}
for tool in tools:
    runs = [r for r in rows if r[0] == tool]
    good = [r for r in runs if r[5] == "0" and int(r[6]) == files]
    if len(good) < len(runs):
        status = 1
    if not good:
        print(f"| {tool} | FAILED | | | | | |")
        continue
    wall = statistics.median(float(r[2]) for r in good)
    cpu = statistics.median(float(r[3]) for r in good)
    sink = statistics.median(float(r[4]) for r in good)
    medians[tool] = wall
    spread = ", ".join(f"{float(r[2]):.2f}" for r in runs)
    print(f"| {tool} | {wall:.2f} | {files / wall:,.0f} | {cpu:.2f} | {sink:.2f} | {cpu / files * 1e6:.0f} | {spread} |")
print()
if "s3rec" in medians:
    rate = files / medians["s3rec"]
    ok = rate >= target
    print(f"s3rec: {rate:,.0f} objects/s, target >= {target:,}: {'PASS' if ok else 'FAIL'}")
    for tool, wall in medians.items():
        if tool != "s3rec":
            print(f"s3rec / {tool}: {medians['s3rec'] / wall:.2f}x wall time")
    if not ok:
        status = 1
sys.exit(status)
PY
