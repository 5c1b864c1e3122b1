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

# Prints the interpreter used to create the virtualenv.
python_bin() {
    if command -v python3 >/dev/null 2>&1; then
        echo python3
    elif command -v python >/dev/null 2>&1; then
        echo python
    else
        die "python3 is not installed: install Python 3 (e.g. 'apt-get install python3 python3-venv') and retry"
    fi
}

# Succeeds when the virtualenv already has exactly the pinned awscli version.
installed_ok() {
    [[ -x "$venv/bin/python" && -x "$aws_bin" ]] || return 1
    local have
    have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("awscli"))' 2>/dev/null)" || return 1
    [[ "$have" == "$AWSCLI_VERSION" ]]
}

if ! installed_ok; then
    if [[ ! -x "$venv/bin/python" ]]; then
        py="$(python_bin)"
        echo "awscli.sh: creating virtualenv $venv" >&2
        "$py" -m venv "$venv" ||
            die "could not create a virtualenv at $venv: install the venv module (e.g. 'apt-get install python3-venv') and retry"
    fi
    echo "awscli.sh: installing awscli==$AWSCLI_VERSION" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "awscli==$AWSCLI_VERSION" >&2 ||
        die "pip could not install awscli==$AWSCLI_VERSION into $venv: check network access to PyPI, or delete $venv and retry"
    installed_ok || die "awscli $AWSCLI_VERSION is still not installed in $venv after pip install: delete $venv and retry"
fi

echo "$aws_bin"
