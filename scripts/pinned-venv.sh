# shellcheck shell=bash
# Sourced by scripts/moto.sh and scripts/awscli.sh: a private virtualenv holding one package pinned to an
# exact version from PyPI, installed only when that version is not already there.
#
#   pinned_ok VENV DIST VERSION                  succeeds when VENV has exactly DIST==VERSION
#   ensure_pinned NAME VENV DIST VERSION [EXTRA] creates VENV if needed and installs DIST[EXTRA]==VERSION;
#                                                NAME prefixes its messages (on stderr); a failure exits 1
#                                                saying what to do

pinned_ok() {
    local venv="$1" dist="$2" version="$3" have
    [[ -x "$venv/bin/python" ]] || return 1
    have="$("$venv/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$dist" 2>/dev/null)" ||
        return 1
    [[ "$have" == "$version" ]]
}

ensure_pinned() {
    local name="$1" venv="$2" dist="$3" version="$4" extra="${5:-}"
    local spec="$dist${extra:+[$extra]}==$version"
    pinned_ok "$venv" "$dist" "$version" && return 0
    if [[ ! -x "$venv/bin/python" ]]; then
        local py
        if command -v python3 >/dev/null 2>&1; then
            py=python3
        elif command -v python >/dev/null 2>&1; then
            py=python
        else
            echo "$name: python3 is not installed: install Python 3 (e.g. 'apt-get install python3 python3-venv') and retry" >&2
            exit 1
        fi
        echo "$name: creating virtualenv $venv" >&2
        if ! "$py" -m venv "$venv"; then
            echo "$name: could not create a virtualenv at $venv: install the venv module (e.g. 'apt-get install python3-venv') and retry" >&2
            exit 1
        fi
    fi
    echo "$name: installing $spec" >&2
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >&2; then
        echo "$name: pip could not install $spec into $venv: check network access to PyPI, or delete $venv and retry" >&2
        exit 1
    fi
    if ! pinned_ok "$venv" "$dist" "$version"; then
        echo "$name: $dist $version is still not installed in $venv after pip install: delete $venv and retry" >&2
        exit 1
    fi
}
