#!/usr/bin/env bash
# Sync at a million files: peak memory and time of an initial upload and of a no-op re-sync, for trees of
# several sizes, against a server whose listings cost almost nothing.
#
#   scripts/bench-memory.sh [--files "200000 1000000"] [--tools "s3rec"] [--no-build | --binary PATH]
#
# Each data set is N files of 16 bytes in directories of 1,000 (generated once into
# target/bench-sync/data-memory-N). The server is `s3rec-bench-server sink` (scripts/bench-server, built into
# target/bench-tools): it drops every body but remembers each object's key and size, and answers
# ListObjectsV2 from that sorted map, 1,000 keys per page at most (AWS's cap), with `start-after` and
# continuation tokens. It is a stand-in for a server, not one: it checks no signature and stores no bytes,
# so what is measured is the client's own cost of walking, listing, comparing and remembering. (s3s-fs, the
# server of scripts/bench-sync.sh, walks its whole bucket for every page: a no-op over 1,000,000 objects
# would take hours there.)
#
# For each size and tool: the initial upload into an empty bucket (the sink must count exactly N PUTs), then
# a no-op re-sync (it must count none). The report gives wall time, CPU time, the sink's CPU time and peak
# RSS, and, for s3rec, the no-op's peak RSS at the largest size against issue 16's targets: at most 256 MiB
# at 1,000,000 files, and at most 1.5x the figure of the smallest size.
#
# The peers come from the same places as in scripts/bench-sync.sh (.venv-bench, Debian's rclone); run that
# script once to install them.
#
# Options:
#   --files LIST   data set sizes, space- or comma-separated (default "200000 1000000")
#   --tools LIST   tools to measure (default "s3rec"; also known: s5cmd, rclone)
#   --no-build     use the existing target/release/s3rec instead of running `cargo build --release`
#   --binary PATH  measure this s3rec binary (another commit's build, say) instead of building one
set -euo pipefail

TARGET_RSS_MIB=256
TARGET_GROWTH=1.5

sizes="200000 1000000"
tools="s3rec"
build=1
binary=""

die() {
    echo "bench-memory: $*" >&2
    exit 1
}
say() {
    echo "==> $*" >&2
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --files)
        [[ $# -ge 2 ]] || die "--files needs a list"
        sizes="${2//,/ }"
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
for n in $sizes; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "--files: '$n' is not a positive integer"
done
for t in $tools; do
    case "$t" in
    s3rec | s5cmd | rclone) ;;
    *) die "--tools: unknown tool '$t' (known: s3rec s5cmd rclone)" ;;
    esac
done

repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=scripts/bench-sync/common.sh
source "$repo_root/scripts/bench-sync/common.sh"
init_sink_run "$repo_root" memory-run

# shellcheck disable=SC2086 # the tool list is meant to split into words
check_peers "$venv" $tools || die "a peer is missing"
wants_s3rec=0
[[ " $tools " == *" s3rec "* ]] && wants_s3rec=1
build_bench_binaries "$repo_root" "$server_build" "$work" "$build" "$wants_s3rec" "$binary" || die "a build failed"
server_bin="$server_build/release/s3rec-bench-server"

for n in $sizes; do
    "$py" "$helper" dataset "$bench_dir/data-memory-$n" --kind memory --files "$n"
done

trap 'echo "bench-memory: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
start_sink "$server_bin" "$work" || die "no sink"
sink_pid="$SINK_PID"
endpoint="$SINK_ENDPOINT"

# Prints the command line of one sync of DATA into BUCKET by TOOL (one word per line).
command_of() {
    local tool="$1" bucket="$2" data="$3" project="$work/projects/$2"
    case "$tool" in
    s3rec)
        [[ -d "$project" ]] || write_bench_project "$project" "$endpoint" "$bucket" "$data" true
        printf '%s\n' "$work/s3rec" --chdir "$project" sync -e bench data
        ;;
    s5cmd) printf '%s\n' "$venv/bin/s5cmd" --endpoint-url "$endpoint" sync --delete "$data/" "s3://$bucket/" ;;
    rclone) printf '%s\n' rclone sync "$data" "bench:$bucket" ;;
    esac
}

results="$work/results.tsv"
: >"$results"
for n in $sizes; do
    data="$bench_dir/data-memory-$n"
    for tool in $tools; do
        bucket="memory-$tool-$n"
        for phase in initial noop; do
            mapfile -t cmd < <(command_of "$tool" "$bucket" "$data")
            before="$(sink_puts "$py" "$endpoint")"
            sync
            "$py" "$helper" run --server-pid "$sink_pid" "$work/result.txt" "$work/logs/$tool-$n.log" -- "${cmd[@]}"
            after="$(sink_puts "$py" "$endpoint")"
            read -r wall cpu rss code sink_cpu <"$work/result.txt"
            written=$((after - before))
            expected="$n"
            [[ "$phase" == noop ]] && expected=0
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$tool" "$phase" "$wall" "$cpu" "$rss" "$sink_cpu" \
                "$code" "$written" "$expected" >>"$results"
            printf '    %8d %-6s %-7s %8.2fs  CPU %7.2fs  sink CPU %6.2fs  peak RSS %5d MiB  %d PUTs%s\n' "$n" "$tool" \
                "$phase" "$wall" "$cpu" "$sink_cpu" $((rss / 1024)) "$written" \
                "$([[ "$code" == 0 && "$written" == "$expected" ]] || echo "  FAILED (exit $code, $expected PUTs expected; see $work/logs/$tool-$n.log)")" >&2
        done
    done
done

echo
echo "$(date -u +%Y-%m-%d) | sync memory: files of 16 bytes into a sink that lists from memory (1,000 keys a page), $(nproc) CPUs, one run each"
# The report's exit status is the script's; `|| status=$?` keeps a missed target from tripping the ERR trap.
status=0
"$py" - "$results" "$TARGET_RSS_MIB" "$TARGET_GROWTH" <<'PY' || status=$?
import sys
path, target_rss, target_growth = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = [line.rstrip("\n").split("\t") for line in open(path)]
status = 0
print()
print("| files | tool | phase | wall (s) | tool CPU (s) | sink CPU (s) | peak RSS (MiB) | PUTs |")
print("|---:|---|---|---:|---:|---:|---:|---:|")
noop = {}
for n, tool, phase, wall, cpu, rss, sink, code, written, expected in rows:
    ok = code == "0" and written == expected
    status |= 0 if ok else 1
    mib = int(rss) / 1024
    if tool == "s3rec" and phase == "noop" and ok:
        noop[int(n)] = mib
    print(f"| {int(n):,} | {tool} | {phase} | {float(wall):.2f} | {float(cpu):.2f} | {float(sink):.2f} | "
          f"{mib:.0f} | {written}{'' if ok else ' FAILED'} |")
print()
if len(noop) >= 1:
    largest, smallest = max(noop), min(noop)
    ok = noop[largest] <= target_rss
    print(f"s3rec no-op peak RSS at {largest:,} files: {noop[largest]:.0f} MiB, target <= {target_rss:.0f}: "
          f"{'PASS' if ok else 'FAIL'}")
    status |= 0 if ok else 1
    if largest != smallest:
        growth = noop[largest] / noop[smallest]
        ok = growth <= target_growth
        print(f"s3rec no-op peak RSS {largest:,} / {smallest:,} files: {growth:.2f}x, target <= {target_growth}: "
              f"{'PASS' if ok else 'FAIL'}")
        status |= 0 if ok else 1
sys.exit(status)
PY
exit "$status"
