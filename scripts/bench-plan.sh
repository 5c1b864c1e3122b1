#!/usr/bin/env bash
# Benchmarks `s3rec plan` on an unchanged estate against a private moto server.
#
#   scripts/bench-plan.sh [--buckets N] [--repeat R] [--parallelism "1 2 4 ..."] [--bucket-region R]
#                         [--import] [--keep]
#
# 1. Builds s3rec in release mode, installs moto into .venv-moto/ if needed, and starts its OWN
#    moto_server on a free loopback port (never the shared one of `scripts/moto.sh start`), stopped on exit.
# 2. Writes a manifest of N fully configured buckets (versioning, SSE-S3, public access block, ownership,
#    tags, lifecycle, TLS-only policy, access logging into one shared log bucket, CORS, an SNS notification,
#    replication into one shared replica bucket) into a temporary project and validates it.
# 3. Applies it once (timed separately) and checks that the next plan is empty.
# 4. For each parallelism, runs `s3rec plan -e bench --parallelism P --detailed-exitcode` R times and
#    records the median wall time and the HTTP requests moto logged per run, in total and for the two
#    operations that find buckets: ListBuckets and GetBucketLocation; the last run at the highest
#    parallelism is also counted by operation (method and the SDK's `x-id` or the bucket subresource, e.g.
#    `GET ?versioning`; `POST /` is every form request: STS, IAM and SNS).
# 5. Prints a table and fails unless every run made at most one request per document (all kinds of every
#    bucket: plan judges the ones the manifest leaves out too), plus one GetBucketLocation per bucket,
#    plus one ListBuckets page per 1,000 buckets, plus a few STS calls per run.
# 6. With --import: runs `s3rec import -e bench --prefix PREFIX- --out FILE --force` R times (parallelism
#    16, the default) on the same estate, and fails unless each run made at most one ListBuckets, one read
#    per document (every kind, per bucket), one GetBucketLocation per bucket the listing gave no region for, and
#    the STS calls, and unless its median wall time is at most twice the median no-op plan at parallelism
#    16 (or the first measured parallelism).
#
# Options:
#   --buckets N          buckets besides the shared log and replica buckets (default 200)
#   --repeat R           plan runs per parallelism; the median is reported (default 3)
#   --parallelism LIST   parallelisms to measure, space- or comma-separated (default "1 2 4 8 16 32 64")
#   --apply-parallelism N  parallelism of the one set-up apply (default 16)
#   --latency-ms L       put a proxy in front of moto that delays every request by L ms, as a network
#                        to AWS would (default 0: talk to moto directly); shows how plan time scales
#                        with --parallelism until the emulator itself saturates
#   --backend B          where the state lives: `local` (default) or `s3` (a versioned state bucket in the
#                        same moto; a no-op plan then adds one conditional GET of the state, which the
#                        request budget allows for)
#   --bucket-region R    put the fault proxy (`scripts/fault-proxy.py --bucket-region R`) in front of
#                        moto, so that ListBuckets names each bucket's region as AWS does (moto 5.1.22
#                        does not): plan then makes no GetBucketLocation call
#   --import             also measure `s3rec import` of the whole estate (step 6)
#   --keep               keep the temporary project and moto log (its path is printed)
set -euo pipefail

buckets=200
repeat=3
parallelisms="1 2 4 8 16 32 64"
apply_parallelism=16
latency_ms=0
keep=0
measure_import=0
import_parallelism=16
# STS calls a plan may make on top of its S3 reads (GetCallerIdentity, once per run).
sts_allowance=2
backend=local
# Requests the state backend adds to a plan: the S3 backend's one conditional GET of the state.
state_allowance=0
bucket_region=""

die() {
    echo "bench-plan: $*" >&2
    exit 1
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
    --buckets)
        [[ $# -ge 2 ]] && is_count "$2" || die "--buckets needs a positive integer"
        buckets="$2"
        shift 2
        ;;
    --repeat)
        [[ $# -ge 2 ]] && is_count "$2" || die "--repeat needs a positive integer"
        repeat="$2"
        shift 2
        ;;
    --parallelism)
        [[ $# -ge 2 ]] || die "--parallelism needs a list, e.g. \"1 4 16\""
        parallelisms="${2//,/ }"
        shift 2
        ;;
    --apply-parallelism)
        [[ $# -ge 2 ]] && is_count "$2" || die "--apply-parallelism needs a positive integer"
        apply_parallelism="$2"
        shift 2
        ;;
    --latency-ms)
        [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die "--latency-ms needs a whole number of milliseconds"
        latency_ms="$2"
        shift 2
        ;;
    --backend)
        [[ $# -ge 2 && ( "$2" == local || "$2" == s3 ) ]] || die "--backend is local or s3"
        backend="$2"
        [[ "$backend" == s3 ]] && state_allowance=1
        shift 2
        ;;
    --bucket-region)
        [[ $# -ge 2 && "$2" =~ ^[a-z0-9-]+$ ]] || die "--bucket-region needs a region, e.g. us-east-1"
        bucket_region="$2"
        shift 2
        ;;
    --import)
        measure_import=1
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
for p in $parallelisms; do
    is_count "$p" || die "--parallelism: '$p' is not a positive integer"
done
[[ -n "${parallelisms// /}" ]] || die "--parallelism: the list is empty"

repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
venv="$repo_root/.venv-moto"

# --- 1. build, install, start a private moto ------------------------------------------------------

echo "==> building s3rec (release)" >&2
(cd "$repo_root" && cargo build --release --locked --quiet)
built="${CARGO_TARGET_DIR:-$repo_root/target}/release/s3rec"
[[ "$built" == /* ]] || built="$repo_root/$built"
[[ -x "$built" ]] || die "the release build did not produce $built"

bash "$repo_root/scripts/moto.sh" install
py="$venv/bin/python"
moto_version="$("$py" -c 'import importlib.metadata as m; print(m.version("moto"))')"

work="$(mktemp -d "${TMPDIR:-/tmp}/s3rec-bench.XXXXXX")"
moto_log="$work/moto.log"
moto_pid=""
proxy_pid=""
region_proxy_pid=""
cleanup() {
    local status=$?
    for pid in "$region_proxy_pid" "$proxy_pid" "$moto_pid"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ "$keep" == 1 || "$status" != 0 ]]; then
        echo "bench-plan: kept the project and moto log in $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# A private copy: a concurrent `cargo build` in the checkout must not swap the binary mid-benchmark.
cp "$built" "$work/s3rec"
s3rec="$work/s3rec"

port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 </dev/null &
moto_pid=$!
endpoint="http://127.0.0.1:$port"

answers() {
    "$py" - "$port" <<'PY' >/dev/null 2>&1
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/moto-api/data.json" % sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
PY
}
deadline=$((SECONDS + 60))
until answers; do
    kill -0 "$moto_pid" 2>/dev/null || {
        tail -n 30 "$moto_log" >&2
        die "moto_server exited before answering"
    }
    ((SECONDS < deadline)) || {
        tail -n 30 "$moto_log" >&2
        die "moto_server did not answer on $endpoint within 60s"
    }
    sleep 0.2
done
echo "==> moto $moto_version (private instance, pid $moto_pid) at $endpoint, log $moto_log" >&2

if [[ "$latency_ms" != 0 ]]; then
    # A TCP proxy that holds every chunk from the client for the given time before passing it on: each
    # request then costs one network round trip's worth of latency, as it does against AWS, while
    # answers flow back at once. asyncio keeps any number of delayed requests in flight.
    proxy_port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    cat >"$work/delay_proxy.py" <<'PY'
import asyncio, sys

listen_port, target_port, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000


async def pipe(reader, writer, wait):
    try:
        while data := await reader.read(65536):
            if wait:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, 0))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
PY
    "$py" "$work/delay_proxy.py" "$proxy_port" "$port" "$latency_ms" >"$work/proxy.log" 2>&1 </dev/null &
    proxy_pid=$!
    sleep 0.5
    kill -0 "$proxy_pid" 2>/dev/null || die "the delay proxy did not start (see $work/proxy.log)"
    endpoint="http://127.0.0.1:$proxy_port"
    echo "==> every request delayed ${latency_ms} ms by a proxy at $endpoint" >&2
fi
if [[ -n "$bucket_region" ]]; then
    "$py" "$repo_root/scripts/fault-proxy.py" --upstream "$endpoint" --bucket-region "$bucket_region" \
        >"$work/region_proxy.out" 2>"$work/region_proxy.log" </dev/null &
    region_proxy_pid=$!
    for _ in $(seq 1 50); do
        [[ -s "$work/region_proxy.out" ]] && break
        sleep 0.1
    done
    endpoint="$(head -n 1 "$work/region_proxy.out")"
    [[ "$endpoint" == http://127.0.0.1:* ]] || die "the fault proxy did not start (see $work/region_proxy.log)"
    echo "==> ListBuckets answers carry BucketRegion $bucket_region through the fault proxy at $endpoint" >&2
fi

# The emulator accepts any credentials; nothing from ~/.aws may leak in.
export S3REC_ENDPOINT_URL="$endpoint"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true NO_COLOR=1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE

# --- 2. the manifest --------------------------------------------------------------------------------

project="$work/project"
mkdir -p "$project/environments"
manifest="$project/environments/bench.yaml"
# Unique per run: a random lowercase-hex suffix keeps bucket names valid and distinct.
run_id="$("$py" -c 'import secrets; print(secrets.token_hex(4))')"
prefix="s3rec-bench-$run_id"
# The access-log bucket and the replica bucket, shared by all the others.
shared_buckets=2

{
    cat <<EOF
# Generated by scripts/bench-plan.sh: $buckets fully configured buckets, one shared access-log bucket
# and one shared replica bucket.
environment: bench

aws:
  region: us-east-1
  endpoint_url: $endpoint
  force_path_style: true

state:
  path: .s3rec/bench.db
$(if [[ "$backend" == s3 ]]; then printf '  backend: s3\n  bucket: bench-state\n'; fi)

defaults:
  versioning: enabled
  encryption:
    algorithm: AES256
  public_access_block: {}
  object_ownership: BucketOwnerEnforced
  tags:
    managed-by: s3rec
    environment: \${env}

buckets:
  access-logs:
    name: $prefix-access-logs
    policy:
      deny_insecure_transport: true
      statements:
        - Sid: S3ServerAccessLogsDelivery
          Effect: Allow
          Principal:
            Service: logging.s3.amazonaws.com
          Action: s3:PutObject
          Resource: "arn:aws:s3:::$prefix-access-logs/*"
    lifecycle:
      - id: expire-access-logs
        expiration:
          days: 90
  # Destination of every bucket's replication rule.
  replica:
    name: $prefix-replica
EOF
    for ((i = 1; i <= buckets; i++)); do
        b="$(printf 'b%05d' "$i")"
        cat <<EOF
  $b:
    name: $prefix-$b
    versioning: enabled
    encryption:
      algorithm: AES256
    public_access_block:
      block_public_acls: true
      ignore_public_acls: true
      block_public_policy: true
      restrict_public_buckets: true
    object_ownership: BucketOwnerEnforced
    tags:
      bench-index: "$i"
      team: platform
    lifecycle:
      - id: tiering
        transitions:
          - {days: 30, storage_class: STANDARD_IA}
          - {days: 90, storage_class: GLACIER}
        expiration:
          days: 365
        abort_incomplete_multipart_upload_days: 7
    policy:
      deny_insecure_transport: true
    logging:
      target_bucket: access-logs
      prefix: $b/
    cors:
      - id: frontend
        allowed_methods: [GET, HEAD, PUT]
        allowed_origins: ["https://app.example.com"]
        allowed_headers: ["*"]
        expose_headers: [ETag]
        max_age_seconds: 600
    notifications:
      - id: new-objects
        topic: bucket-events
        events: ["s3:ObjectCreated:*"]
        filter:
          prefix: incoming/
    # Only what moto keeps: it drops a rule's filter, storage class and delete-marker switch
    # (docs/testing.md), so using them would show a change on every plan.
    replication:
      role: replication
      rules:
        - id: replicate-all
          destination:
            bucket: replica
EOF
    done
    cat <<EOF

iam:
  roles:
    replication:
      name: $prefix-replication
      trust:
        services: [s3.amazonaws.com]

sns:
  topics:
    bucket-events:
      name: $prefix-bucket-events
EOF
} >"$manifest"

echo "==> s3rec validate -e bench ($buckets buckets + $shared_buckets shared ones, prefix $prefix)" >&2
"$s3rec" --chdir "$project" validate -e bench --deny-warnings >&2 || die "the generated manifest $manifest is not valid"

# --- 3. set-up: apply once, then the plan must be empty -----------------------------------------

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# Request lines as werkzeug logs them: 127.0.0.1 - - [date] "GET /bucket/?versioning HTTP/1.1" 200 -
# (werkzeug colours the lines of some status codes, e.g. 204 and 404; count_lines strips the ANSI codes).
request_pattern='^[0-9a-fA-F.:]+ - - \[[^]]*\] "[A-Z]+ [^"]* HTTP/[0-9.]+" [0-9]{3} '
# STS through the same endpoint: a form POST to the root.
sts_pattern='"POST / HTTP/[0-9.]+" [0-9]{3} '
# ListBuckets (GET of the root) and GetBucketLocation (GET /BUCKET?location), counted apart.
list_pattern='"GET /(\?[^ ]*)? HTTP/[0-9.]+" [0-9]{3} '
location_pattern='"GET /[^/ ?]+/?\?location HTTP/[0-9.]+" [0-9]{3} '
esc=$'\033'
count_lines() {
    sed "s/${esc}\[[0-9;]*m//g" "$moto_log" | grep -cE "$1" || true
}
# Waits until moto has logged every request of the process that just ended (it logs while answering,
# so this is normally immediate), then prints the number of request lines so far.
settled_count() {
    local before after
    before="$(count_lines "$request_pattern")"
    while :; do
        sleep 0.05
        after="$(count_lines "$request_pattern")"
        [[ "$after" == "$before" ]] && break
        before="$after"
    done
    echo "$after"
}

if [[ "$backend" == s3 ]]; then
    "$py" - "$endpoint" <<'PY' || die "cannot create the state bucket"
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket="bench-state")
s3.put_bucket_versioning(Bucket="bench-state", VersioningConfiguration={"Status": "Enabled"})
PY
fi
"$s3rec" --chdir "$project" plan -e bench --format json >"$work/setup-plan.json" 2>"$work/setup-plan.err" ||
    {
        cat "$work/setup-plan.err" >&2
        die "the set-up plan failed"
    }
# Managed documents: every change addressed bucket.NAME.DOC in the set-up plan (all creates).
read -r total_buckets total_docs total_identities < <("$py" - "$work/setup-plan.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
buckets = docs = identities = 0
for c in plan["changes"]:
    parts = c["address"].split(".")
    if c["action"] != "create":
        sys.exit("set-up plan: unexpected %s of %s" % (c["action"], c["address"]))
    if parts[0] != "bucket":
        # The replication role and the notification topic, and their parts.
        identities += 1
    elif len(parts) == 2:
        buckets += 1
    elif len(parts) == 3:
        docs += 1
print(buckets, docs, identities)
PY
)
[[ "$total_buckets" == $((buckets + shared_buckets)) ]] ||
    die "the set-up plan creates $total_buckets buckets, expected $((buckets + shared_buckets))"

echo "==> set-up: s3rec apply -e bench --auto-approve --parallelism $apply_parallelism ($total_buckets buckets, $total_docs documents)" >&2
c0="$(settled_count)"
t0="$(now)"
"$s3rec" --chdir "$project" apply -e bench --auto-approve --parallelism "$apply_parallelism" \
    >"$work/apply.out" 2>"$work/apply.err" || {
    tail -n 40 "$work/apply.err" >&2
    die "the set-up apply failed"
}
t1="$(now)"
c1="$(settled_count)"
setup_time="$(elapsed "$t0" "$t1")"
setup_requests=$((c1 - c0))

status=0
"$s3rec" --chdir "$project" plan -e bench --detailed-exitcode >"$work/converged.out" 2>"$work/converged.err" || status=$?
if [[ "$status" != 0 ]]; then
    cat "$work/converged.out" >&2
    tail -n 20 "$work/converged.err" >&2
    die "the plan after apply is not empty (exit $status): the estate did not converge on moto $moto_version"
fi
echo "==> set-up took ${setup_time}s ($setup_requests requests); the next plan is empty" >&2

# --- 4. measure ---------------------------------------------------------------------------------

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# CPU seconds (user + system) moto has used so far, from /proc; "nan" where there is no /proc.
clk_tck="$(getconf CLK_TCK 2>/dev/null || echo 100)"
moto_cpu() {
    if [[ -r "/proc/$moto_pid/stat" ]]; then
        # Fields after the ") " that closes the command name: utime and stime are the 12th and 13th.
        sed 's/.*) //' "/proc/$moto_pid/stat" | awk -v hz="$clk_tck" '{ printf "%.3f", ($12 + $13) / hz }'
    else
        echo nan
    fi
}

results="$work/results.tsv"
: >"$results"
for p in $parallelisms; do
    times=()
    reqs=()
    stss=()
    cpus=()
    moto_cpus=()
    lists=()
    locations=()
    for ((r = 1; r <= repeat; r++)); do
        c0="$(settled_count)"
        s0="$(count_lines "$sts_pattern")"
        b0="$(count_lines "$list_pattern")"
        g0="$(count_lines "$location_pattern")"
        m0="$(moto_cpu)"
        t0="$(now)"
        status=0
        # bash's `time` gives the plan's own CPU (user + system); the wall time comes from `date`.
        { TIMEFORMAT='%3U %3S' && time "$s3rec" --chdir "$project" plan -e bench --parallelism "$p" \
            --detailed-exitcode >"$work/plan.out" 2>"$work/plan.err"; } 2>"$work/plan.cpu" || status=$?
        t1="$(now)"
        c1="$(settled_count)"
        # This run's request lines, for the count by operation (the last run of the last parallelism).
        sed "s/${esc}\[[0-9;]*m//g" "$moto_log" | grep -E "$request_pattern" | sed -n "$((c0 + 1)),${c1}p" \
            >"$work/operations.log" || true
        s1="$(count_lines "$sts_pattern")"
        b1="$(count_lines "$list_pattern")"
        g1="$(count_lines "$location_pattern")"
        m1="$(moto_cpu)"
        if [[ "$status" != 0 ]]; then
            cat "$work/plan.out" >&2
            tail -n 20 "$work/plan.err" >&2
            die "plan --parallelism $p (run $r) exited $status, expected 0 (no changes)"
        fi
        times+=("$(elapsed "$t0" "$t1")")
        reqs+=($((c1 - c0)))
        stss+=($((s1 - s0)))
        lists+=($((b1 - b0)))
        locations+=($((g1 - g0)))
        cpus+=("$(awk '{ printf "%.3f", $1 + $2 }' "$work/plan.cpu")")
        if [[ "$m0" == nan || "$m1" == nan ]]; then
            moto_cpus+=(nan)
        else
            moto_cpus+=("$(elapsed "$m0" "$m1")")
        fi
        echo "    parallelism $p, run $r: ${times[-1]}s, ${reqs[-1]} requests (${stss[-1]} STS," \
            "${lists[-1]} ListBuckets, ${locations[-1]} GetBucketLocation)," \
            "s3rec CPU ${cpus[-1]}s, moto CPU ${moto_cpus[-1]}s" >&2
    done
    max_req="$(printf '%s\n' "${reqs[@]}" | sort -n | tail -n 1)"
    min_req="$(printf '%s\n' "${reqs[@]}" | sort -n | head -n 1)"
    max_sts="$(printf '%s\n' "${stss[@]}" | sort -n | tail -n 1)"
    max_list="$(printf '%s\n' "${lists[@]}" | sort -n | tail -n 1)"
    max_location="$(printf '%s\n' "${locations[@]}" | sort -n | tail -n 1)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$(median "${times[@]}")" "$min_req" "$max_req" "$max_sts" \
        "$(median "${cpus[@]}")" "$(median "${moto_cpus[@]}")" "$max_list" "$max_location" >>"$results"
done

# --- 6 (measured before the report). import of the same estate -------------------------------------

import_results="$work/import.tsv"
: >"$import_results"
if [[ "$measure_import" == 1 ]]; then
    for ((r = 1; r <= repeat; r++)); do
        c0="$(settled_count)"
        s0="$(count_lines "$sts_pattern")"
        l0="$(count_lines '"GET /(\?[^ ]*)? HTTP/[0-9.]+" [0-9]{3} ')"
        m0="$(moto_cpu)"
        t0="$(now)"
        status=0
        { TIMEFORMAT='%3U %3S' && time "$s3rec" --chdir "$project" import -e bench --prefix "$prefix-" \
            --parallelism "$import_parallelism" --out "$work/imported.yaml" --force \
            >"$work/import.out" 2>"$work/import.err"; } 2>"$work/import.cpu" || status=$?
        t1="$(now)"
        c1="$(settled_count)"
        s1="$(count_lines "$sts_pattern")"
        l1="$(count_lines '"GET /(\?[^ ]*)? HTTP/[0-9.]+" [0-9]{3} ')"
        m1="$(moto_cpu)"
        if [[ "$status" != 0 ]]; then
            tail -n 20 "$work/import.err" >&2
            die "import (run $r) exited $status"
        fi
        cpu="$(awk '{ printf "%.3f", $1 + $2 }' "$work/import.cpu")"
        if [[ "$m0" == nan || "$m1" == nan ]]; then mc=nan; else mc="$(elapsed "$m0" "$m1")"; fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(elapsed "$t0" "$t1")" $((c1 - c0)) $((s1 - s0)) $((l1 - l0)) "$cpu" "$mc" \
            >>"$import_results"
        echo "    import, run $r: $(elapsed "$t0" "$t1")s, $((c1 - c0)) requests ($((l1 - l0)) ListBuckets," \
            "$((s1 - s0)) STS), s3rec CPU ${cpu}s, moto CPU ${mc}s" >&2
    done
    # The imported manifest must be one s3rec accepts.
    mkdir -p "$work/reimport/environments"
    sed "s/^environment: bench$/environment: check/" "$work/imported.yaml" >"$work/reimport/environments/check.yaml"
    "$s3rec" --chdir "$work/reimport" validate -e check >&2 || die "the imported manifest does not validate"
fi

# --- 5. report and check ----------------------------------------------------------------------------

# How many documents plan reads per bucket: the kinds in the registry's one list (model/kinds/mod.rs).
kinds_per_bucket="$(sed -n '/^macro_rules! with_doc_kinds/,/^}/p' "$repo_root/src/model/kinds/mod.rs" |
    grep -cE '^ +[A-Z][A-Za-z]* => [a-z_]+,$')"
[ "$kinds_per_bucket" -gt 0 ] || die "cannot count the document kinds in src/model/kinds/mod.rs"

"$py" - "$results" "$total_buckets" "$total_docs" "$sts_allowance" "$buckets" "$repeat" "$setup_time" \
    "$setup_requests" "$apply_parallelism" "$moto_version" "$(nproc 2>/dev/null || echo '?')" "$latency_ms" \
    "$backend" "$state_allowance" "$total_identities" "$import_results" "$import_parallelism" "$kinds_per_bucket" \
    "${bucket_region:-}" "$work/operations.log" <<'PY'
import sys

path, total_buckets, total_docs, sts_allowance, n, repeat, setup_time, setup_requests, apply_p, moto, cpus, latency, backend, state_allowance, identities, import_path, import_p, kinds, listed_region, operations_log = sys.argv[1:]
kinds = int(kinds)
total_buckets, total_docs, sts_allowance = int(total_buckets), int(total_docs), int(sts_allowance)
# STS, the state backend's read, and the IAM/SNS reads of the replication role and the notification topic
# (at most three requests per resource or part: the resource, its inline or attached policies, its
# subscriptions).
sts_allowance += int(state_allowance) + 3 * int(identities)
rows = [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
docs_per_bucket = total_docs / total_buckets
# A plan reads every document of every bucket (the ones the manifest leaves out too, to judge them),
# after one ListBuckets page per 1,000 buckets (the plan lists the account first; see planner::read_desired).
read_docs = kinds * total_buckets
list_pages = -(-total_buckets // 1000)
# With --bucket-region the listing carries every bucket's region, so plan makes no location call at all.
locations = 0 if listed_region else total_buckets
limit = read_docs + locations + list_pages + sts_allowance
base = float(rows[0][1])

print(f"s3rec plan ({backend} state), {n} unchanged buckets + {total_buckets - int(n)} shared ones ({total_buckets} buckets, {total_docs} managed documents),")
latency_note = f", every request delayed {latency} ms by a proxy" if latency != "0" else ""
print(f"moto {moto}{latency_note}, {cpus} CPUs, median of {repeat} runs; set-up apply (parallelism {apply_p}): {float(setup_time):.2f} s, {setup_requests} requests")
print()
print(f"| parallelism | median wall time (s) | speed-up vs {rows[0][0]} | requests per run | STS per run | ListBuckets per run | GetBucketLocation per run | requests per bucket | documents per bucket | s3rec CPU (s) | moto CPU (s) |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
failures = []
for p, median, min_req, max_req, max_sts, cpu, moto_cpu, max_list, max_location in rows:
    min_req, max_req, max_sts = int(min_req), int(max_req), int(max_sts)
    reqs = str(max_req) if min_req == max_req else f"{min_req}-{max_req}"
    print(f"| {p} | {float(median):.2f} | {base / float(median):.2f}x | {reqs} | {max_sts} | {max_list} | {max_location} | "
          f"{max_req / total_buckets:.2f} | {docs_per_bucket:.2f} | {float(cpu):.2f} | {float(moto_cpu):.2f} |")
    if max_req > limit:
        failures.append(f"parallelism {p}: {max_req} requests in one run, more than {read_docs} documents "
                        f"+ {locations} GetBucketLocation + {list_pages} ListBuckets + {sts_allowance} STS, IAM/SNS and state = {limit}")
    elif max_req < read_docs + locations:
        print(f"note: parallelism {p} made {max_req} requests, fewer than documents + locations "
              f"({read_docs + locations}): is every document still read?", file=sys.stderr)
    if listed_region and int(max_location) > 0:
        failures.append(f"parallelism {p}: {max_location} GetBucketLocation calls although the listing gave every region")
print()

# The last measured run by operation. An SDK request names its operation in `x-id` where the path and
# method alone do not (ListBuckets, GetObject, ...); bucket settings are named by their subresource.
import re
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

def operation(line):
    m = re.search(r'"([A-Z]+) ([^ "]*) HTTP/', line)
    if not m:
        return None
    method, target = m.groups()
    url = urlsplit(target)
    query = parse_qsl(url.query, keep_blank_values=True)
    xid = next((v for k, v in query if k == "x-id"), None)
    if xid:
        return xid
    if method == "POST" and url.path == "/":
        return "POST / (STS, IAM, SNS)"
    if any(k == "list-type" for k, _ in query):
        return "ListObjectsV2"
    names = sorted(k for k, v in query if v == "" and k != "x-id")
    depth = "/" if url.path in ("", "/") else ("/BUCKET" if url.path.strip("/").count("/") == 0 else "/BUCKET/KEY")
    return f"{method} {'?' + '&'.join(names) if names else depth}"

ops = Counter(filter(None, (operation(l) for l in open(operations_log))))
if ops:
    print(f"requests of the last run at parallelism {rows[-1][0]}, by operation ({sum(ops.values())} in all):")
    print()
    print("| operation | requests | per bucket |")
    print("|---|---:|---:|")
    for op, count in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"| {op} | {count} | {count / total_buckets:.2f} |")
    print()
location_rule = "no GetBucketLocation (the listing gives each region)" if listed_region else "one GetBucketLocation per bucket"
print(f"budget: requests per run <= {kinds} documents per bucket ({read_docs}) + {location_rule} + {list_pages} ListBuckets + {sts_allowance} for STS, IAM/SNS "
      f"({identities} resources and parts) and the state backend ({state_allowance}) = {limit}")
imports = [line.rstrip("\n").split("\t") for line in open(import_path) if line.strip()]
if imports:
    from statistics import median as med
    # One ListBuckets, the documents of every bucket, a location per bucket (moto's listing gives no
    # region; AWS's does, and then there is none), and STS.
    import_limit = 1 + total_buckets * kinds + locations + 2
    plan_row = next((r for r in rows if r[0] == import_p), rows[0])
    plan_median = float(plan_row[1])
    walls = [float(r[0]) for r in imports]
    print()
    print(f"s3rec import of the same {total_buckets} buckets (parallelism {import_p}), {len(imports)} runs:")
    print()
    print("| run | wall time (s) | requests | ListBuckets | STS | s3rec CPU (s) | moto CPU (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for i, (wall, reqs, sts, lists, cpu, moto_cpu) in enumerate(imports, 1):
        print(f"| {i} | {float(wall):.2f} | {reqs} | {lists} | {sts} | {float(cpu):.2f} | {moto_cpu} |")
        if int(reqs) > import_limit:
            failures.append(f"import run {i}: {reqs} requests, more than {import_limit}")
    print()
    print(f"import: median {med(walls):.2f} s (spread {min(walls):.2f}-{max(walls):.2f}); no-op plan at parallelism "
          f"{plan_row[0]}: median {plan_median:.2f} s; ratio {med(walls) / plan_median:.2f} (limit 2.00); "
          f"request budget {import_limit}")
    if med(walls) > 2 * plan_median:
        failures.append(f"import median {med(walls):.2f} s is more than twice the plan's {plan_median:.2f} s")
if failures:
    print("\nFAILED: a run went over its budget:", file=sys.stderr)
    for f in failures:
        print("  " + f, file=sys.stderr)
    sys.exit(1)
print("OK: every run stayed within the budget")
PY
