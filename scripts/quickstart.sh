#!/usr/bin/env bash
# The main job end to end on a fresh machine, against the local AWS emulator (no AWS account needed):
# build s3rec, start moto, validate environments/local.yaml, plan, apply, and plan again, which must
# report no changes. The emulator started here is stopped on exit.
set -euo pipefail

repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo_root"

echo "==> building s3rec" >&2
cargo build --locked --quiet
s3rec="$repo_root/target/debug/s3rec"

started_here=0
if endpoint="$(bash scripts/moto.sh endpoint 2>/dev/null)"; then
    echo "==> using the running emulator at $endpoint" >&2
else
    echo "==> starting the emulator (the first run installs moto into .venv-moto/)" >&2
    endpoint="$(bash scripts/moto.sh start)"
    started_here=1
fi
cleanup() {
    if [[ "$started_here" == 1 ]]; then
        bash scripts/moto.sh stop || true
    fi
}
trap cleanup EXIT

# The emulator accepts any credentials; these keep ~/.aws out of the demo.
export S3REC_ENDPOINT_URL="$endpoint"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
# A fresh emulator holds nothing, so start from a fresh state too.
rm -f .s3rec/local.db .s3rec/local.db-wal .s3rec/local.db-shm

echo "==> s3rec validate -e local" >&2
"$s3rec" validate -e local
echo "==> s3rec plan -e local" >&2
"$s3rec" plan -e local
echo "==> s3rec apply -e local --auto-approve" >&2
"$s3rec" apply -e local --auto-approve
echo "==> s3rec plan -e local --detailed-exitcode (must report no changes)" >&2
status=0
"$s3rec" plan -e local --detailed-exitcode || status=$?
if [[ "$status" != 0 ]]; then
    echo "quickstart: the second plan is not empty (exit $status)" >&2
    exit 1
fi
echo "==> converged: the second plan is empty" >&2
