#!/usr/bin/env bash
# Benchmarks `s3rec restore --into` against `aws s3 sync` and `rclone copy` downloading the same (latest)
# set from a versioned bucket.
#
#   scripts/bench-restore.sh [--repeat N] [--small N] [--large N] [--latency-ms L] [--no-build]
#
# The data set is N small files (default 5,000 of 4 KiB in 50 directories) plus a few large ones (default
# 3 of 32 MiB), synced by `s3rec sync` into a bucket with versioning enabled (a restore reads the version
# listing, which only versioned buckets answer with more than one version). Each tool then downloads the
# latest set into its own empty directory, `--repeat` times; every result is compared byte for byte with the
# source, and a run that fails or differs is reported as FAILED and left out. The report gives each tool's
# median wall time with its spread (min-max), its median user+system CPU time, and s3rec's ratio to each
# peer, all from one run of this script.
#
# The server is the moto emulator the tests use (scripts/moto.sh start; its endpoint from
# `scripts/moto.sh endpoint` or S3REC_TEST_ENDPOINT): the benchmark servers of scripts/bench-server and
# s3s-fs have no version listing. moto is a single Python process, so it sets the pace for every tool and
# the ratios say how well each tool keeps it busy rather than what they reach against AWS.
#
# With --latency-ms L every tool's restore goes through `s3rec-bench-server proxy` (scripts/bench-server),
# which holds each request for L ms and caps listings at AWS's 1,000 keys a page: a set of small files
# is then bound by round trips, as it is against a region, and each tool's concurrency shows.
#
# Peers: `aws` (the AWS CLI; `.venv-bench/` from PyPI, pinned below, when none is on PATH) and `rclone`
# (apt-get when missing: needs root). s3rec is `target/release/s3rec` (built unless --no-build).
set -euo pipefail

AWSCLI_VERSION="1.46.3"
repeat=3
small=5000
large=3
build=1
latency_ms=0

die() {
    echo "bench-restore: $*" >&2
    exit 1
}

say() {
    echo "==> $*" >&2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --repeat) repeat=$2; shift 2 ;;
        --small) small=$2; shift 2 ;;
        --large) large=$2; shift 2 ;;
        --latency-ms) latency_ms=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

repo="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
target="${CARGO_TARGET_DIR:-$repo/target}"
if [ "$build" = 1 ]; then
    say "building s3rec (release)"
    (cd "$repo" && cargo build --release --quiet)
fi
s3rec="$target/release/s3rec"
[ -x "$s3rec" ] || die "$s3rec is missing: build it, or drop --no-build"

endpoint="${S3REC_TEST_ENDPOINT:-}"
[ -n "$endpoint" ] || endpoint=$("$repo/scripts/moto.sh" endpoint) || die "no emulator: scripts/moto.sh start"

# The restores' endpoint: moto itself, or the latency proxy in front of it.
rendpoint="$endpoint"
proxy_pid=""
work=$(mktemp -d)
trap 'if [ -n "$proxy_pid" ]; then kill -INT "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
if [ "$latency_ms" != 0 ]; then
    # shellcheck source=scripts/bench-sync/common.sh
    source "$repo/scripts/bench-sync/common.sh"
    server_build="$repo/target/bench-tools/server-build"
    build_bench_binaries "$repo" "$server_build" "$work" 0 0 || die "could not build the bench server"
    "$server_build/release/s3rec-bench-server" proxy --upstream "$endpoint" --max-keys 1000 --latency-ms "$latency_ms" \
        > "$work/proxy.endpoint" 2> "$work/proxy.log" < /dev/null &
    proxy_pid=$!
    rendpoint="$(wait_for_endpoint "$work/proxy.endpoint" "$proxy_pid" "the proxy" "$work/proxy.log")" || die "no proxy"
    say "restores go through the proxy at $rendpoint (+$latency_ms ms a request)"
fi

if ! command -v aws > /dev/null; then
    if [ ! -x "$repo/.venv-bench/bin/aws" ]; then
        say "installing awscli $AWSCLI_VERSION into .venv-bench"
        python3 -m venv "$repo/.venv-bench"
        "$repo/.venv-bench/bin/pip" install --quiet "awscli==$AWSCLI_VERSION"
    fi
    PATH="$repo/.venv-bench/bin:$PATH"
fi
if ! command -v rclone > /dev/null; then
    say "installing rclone with apt-get"
    apt-get install -y rclone > /dev/null
fi

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export NO_COLOR=1
# The endpoint is plain HTTP: rclone refuses to start with a CA bundle set, and the AWS CLI reads no
# configuration of this machine.
unset AWS_CA_BUNDLE AWS_PROFILE AWS_SESSION_TOKEN S3REC_ENDPOINT_URL
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT="$rendpoint"
export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=testing RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=testing
export RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true RCLONE_CONFIG_BENCH_REGION=us-east-1

cd "$work"
env="benchrst$RANDOM$RANDOM"
bucket="$env-data"
mkdir -p environments src
printf 'environment: %s\naws:\n  region: us-east-1\n  endpoint_url: %s\n  force_path_style: true\nbuckets:\n  data:\n    name: %s\n    versioning: enabled\nsync:\n  files:\n    source: src\n    bucket: data\n    prefix: backup/\n' \
    "$env" "$endpoint" "$bucket" > "environments/$env.yaml"

say "writing $small files of 4 KiB and $large of 32 MiB"
python3 - "$small" "$large" <<'EOF'
import os, random, sys
small, large = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(19)
for i in range(small):
    d = f"src/d{i % 50:02}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:05}.bin", "wb") as f:
        f.write(rng.randbytes(4096))
os.makedirs("src/large", exist_ok=True)
for i in range(large):
    with open(f"src/large/l{i}.bin", "wb") as f:
        f.write(rng.randbytes(32 * 1024 * 1024))
EOF
say "creating the bucket and syncing the set into it"
"$s3rec" apply -e "$env" --auto-approve > /dev/null 2> apply.log || die "apply failed: $(tail -5 apply.log)"

# One timed run: TOOL RUN; prints "wall user+sys" or FAILED.
run_once() {
    local tool=$1 n=$2 dest="$work/out-$1-$2"
    local cmd
    case "$tool" in
        s3rec) cmd=(env S3REC_ENDPOINT_URL="$rendpoint" "$s3rec" restore -e "$env" files --into "$dest") ;;
        aws) cmd=(aws --endpoint-url "$rendpoint" s3 sync "s3://$bucket/backup/" "$dest" --only-show-errors) ;;
        rclone) cmd=(rclone copy "bench:$bucket/backup" "$dest") ;;
    esac
    if ! /usr/bin/time -f "%e %U %S" -o "time-$tool-$n" "${cmd[@]}" > "log-$tool-$n" 2>&1; then
        echo FAILED
        return
    fi
    # s3rec's own bookkeeping directory is not part of the tree.
    if ! diff -r -x .s3rec-partial src "$dest" > /dev/null; then
        echo FAILED
        return
    fi
    rm -rf "$dest"
    awk '{printf "%s %.2f\n", $1, $2 + $3}' "time-$tool-$n"
}

tools=(s3rec aws rclone)
declare -A walls cpus
for n in $(seq 1 "$repeat"); do
    for tool in "${tools[@]}"; do
        result=$(run_once "$tool" "$n")
        say "run $n $tool: $result"
        if [ "$result" != FAILED ]; then
            walls[$tool]+="${result%% *} "
            cpus[$tool]+="${result##* } "
        fi
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2] + a[NR/2+1]) / 2}'; }
spread() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 {min=$1} {max=$1} END {printf "%s-%s", min, max}'; }

echo "restore of $small x 4 KiB + $large x 32 MiB, $repeat runs per tool, server: moto at $endpoint, +$latency_ms ms a request"
printf '%-8s %10s %14s %10s\n' tool "wall (s)" "spread (s)" "CPU (s)"
for tool in "${tools[@]}"; do
    printf '%-8s %10s %14s %10s\n' "$tool" "$(echo "${walls[$tool]:-}" | median)" "$(echo "${walls[$tool]:-}" | spread)" "$(echo "${cpus[$tool]:-}" | median)"
done
s3w=$(echo "${walls[s3rec]:-}" | median)
s3c=$(echo "${cpus[s3rec]:-}" | median)
for peer in aws rclone; do
    pw=$(echo "${walls[$peer]:-}" | median)
    pc=$(echo "${cpus[$peer]:-}" | median)
    awk -v a="$s3w" -v b="$pw" -v c="$s3c" -v d="$pc" -v p="$peer" \
        'BEGIN {if (b > 0 && d > 0) printf "s3rec / %s: wall %.2fx, CPU %.2fx\n", p, a / b, c / d}'
done
