#!/usr/bin/env bash
# Installs the AWS CLI the integration tests compare s3rec with, and prints the path of its `aws`.
#
#   scripts/awscli.sh    create <repo>/.venv-awscli with the pinned awscli (skipped when already there),
#                        then print the path of its `aws` on stdout (progress goes to stderr)
#
# The CLI gets a virtualenv of its own, not moto's: awscli pins its own botocore, and installing it into
# .venv-moto would change the botocore moto runs on. awscli is pinned so that a test comparing s3rec
# with the CLI's listing compares with the same CLI everywhere. Change AWSCLI_VERSION only together with
# a full test run.
set -euo pipefail

AWSCLI_VERSION="1.45.11"

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"
venv="$repo_root/.venv-awscli"
aws_bin="$venv/bin/aws"

die() {
    echo "awscli.sh: $*" >&2
    exit 1
}

[[ $# -eq 0 ]] || die "takes no arguments (usage: scripts/awscli.sh)"

# shellcheck source=scripts/pinned-venv.sh
source "$script_dir/pinned-venv.sh"
ensure_pinned awscli.sh "$venv" awscli "$AWSCLI_VERSION"
[[ -x "$aws_bin" ]] || die "awscli $AWSCLI_VERSION in $venv has no aws: delete $venv and retry"

echo "$aws_bin"
