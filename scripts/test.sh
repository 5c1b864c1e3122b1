#!/usr/bin/env bash
# Runs the whole test suite: starts the moto AWS emulator (installing it on first use), installs the
# pinned AWS CLI some tests compare s3rec with (scripts/awscli.sh, also on first use only), points the
# tests at both, and runs every cargo test target. Extra arguments go to `cargo test`, e.g.
#
#   scripts/test.sh                    # everything
#   scripts/test.sh --test emulator    # one integration test file
#   scripts/test.sh -- --nocapture     # arguments for the test binaries
#
# A moto already started with `scripts/moto.sh start` is reused and left running; one started here is
# stopped on exit.
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"
moto="$script_dir/moto.sh"

started_here=0
if endpoint="$(bash "$moto" endpoint 2>/dev/null)"; then
    echo "test.sh: using the running moto at $endpoint" >&2
else
    endpoint="$(bash "$moto" start)"
    started_here=1
fi

cleanup() {
    if [[ "$started_here" == 1 ]]; then
        bash "$moto" stop || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export S3REC_TEST_ENDPOINT="$endpoint"
# Installed after the trap is set, so that a failed install still stops a moto started here.
aws_cli="$(bash "$script_dir/awscli.sh")"
export S3REC_TEST_AWS_CLI="$aws_cli"
# Dummy credentials and a fixed region keep the tests away from whatever ~/.aws holds on this machine.
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
export NO_COLOR=1

# `--all-targets` is a union with any target the caller names, so `--test emulator` would still run
# everything; only add it when the caller selected no target of their own.
targets=(--all-targets)
for arg in "$@"; do
    case "$arg" in
    --) break ;;
    --lib | --bins | --bin | --bin=* | --tests | --test | --test=* | --examples | --example | --example=* | \
        --benches | --bench | --bench=* | --all-targets | --doc)
        targets=()
        break
        ;;
    esac
done

cd "$repo_root"
status=0
cargo test --locked "${targets[@]}" "$@" || status=$?
exit "$status"
