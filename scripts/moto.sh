#!/usr/bin/env bash
# Installs, starts and stops moto, the AWS emulator the integration tests run against.
#
#   scripts/moto.sh install    create <repo>/.venv-moto with the pinned moto (skipped when already there)
#   scripts/moto.sh start      install if needed, start moto_server on a free loopback port, print its endpoint
#   scripts/moto.sh stop       stop the moto_server this script started
#   scripts/moto.sh endpoint   print the endpoint of the running moto_server, or exit 1
#
# moto is pinned on purpose: moto 5.2.x answers GetBucketVersioning on a never-versioned bucket with a
# root element the Rust SDK rejects. Change MOTO_VERSION only together with a full test run.
set -euo pipefail

MOTO_VERSION="5.1.22"

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"
venv="$repo_root/.venv-moto"
run_dir="$repo_root/target/moto"
pid_file="$run_dir/moto.pid"
port_file="$run_dir/moto.port"
log_file="$run_dir/moto.log"
# How long `start` waits for the server to answer before giving up, in seconds.
start_timeout="${MOTO_START_TIMEOUT:-60}"

die() {
    echo "moto.sh: $*" >&2
    exit 1
}

# shellcheck source=scripts/pinned-venv.sh
source "$script_dir/pinned-venv.sh"

cmd_install() {
    ensure_pinned moto.sh "$venv" moto "$MOTO_VERSION" server
    [[ -x "$venv/bin/moto_server" ]] || die "moto $MOTO_VERSION in $venv has no moto_server: delete $venv and retry"
}

# Succeeds when the given pid is a live moto_server (not some other process that reused a stale pid).
is_moto_pid() {
    local pid="$1"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_server
    fi
}

# Succeeds when the pid file names a live moto_server.
running() {
    [[ -f "$pid_file" && -f "$port_file" ]] || return 1
    is_moto_pid "$(cat "$pid_file")"
}

# Succeeds when something answers HTTP on the given port.
answers() {
    "$venv/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request, urllib.error
url = "http://127.0.0.1:%s/moto-api/data.json" % sys.argv[1]
try:
    urllib.request.urlopen(url, timeout=2)
except urllib.error.HTTPError:
    pass  # Any HTTP answer, even an error status, means the server is up.
PY
}

cmd_endpoint() {
    if running && answers "$(cat "$port_file")"; then
        echo "http://127.0.0.1:$(cat "$port_file")"
    else
        echo "moto.sh: moto is not running: start it with scripts/moto.sh start" >&2
        exit 1
    fi
}

cmd_start() {
    if running && answers "$(cat "$port_file")"; then
        echo "moto.sh: reusing moto already running (pid $(cat "$pid_file"))" >&2
        echo "http://127.0.0.1:$(cat "$port_file")"
        return 0
    fi
    # A stale pid file from a crashed or half-started server would only confuse `stop`.
    cmd_stop >/dev/null 2>&1 || true
    cmd_install
    mkdir -p "$run_dir"

    local port pid
    port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    : >"$log_file"
    # setsid puts the server in its own session so the caller's Ctrl-C or job control does not reach it
    # half-way; `stop` ends it by pid.
    if command -v setsid >/dev/null 2>&1; then
        setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >>"$log_file" 2>&1 </dev/null &
    else
        nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >>"$log_file" 2>&1 </dev/null &
    fi
    pid=$!
    echo "$pid" >"$pid_file"
    echo "$port" >"$port_file"

    local deadline=$((SECONDS + start_timeout))
    until answers "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pid_file" "$port_file"
            echo "moto.sh: moto_server exited before answering; last lines of $log_file:" >&2
            tail -n 30 "$log_file" >&2 || true
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            echo "moto.sh: moto_server did not answer on 127.0.0.1:$port within ${start_timeout}s; last lines of $log_file:" >&2
            tail -n 30 "$log_file" >&2 || true
            cmd_stop >/dev/null 2>&1 || true
            exit 1
        fi
        sleep 0.2
    done
    echo "moto.sh: moto $MOTO_VERSION started (pid $pid, log $log_file)" >&2
    echo "http://127.0.0.1:$port"
}

cmd_stop() {
    if [[ -f "$pid_file" ]]; then
        local pid
        pid="$(cat "$pid_file")"
        if is_moto_pid "$pid"; then
            kill "$pid" 2>/dev/null || true
            local i
            for i in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$pid" 2>/dev/null; then
                kill -9 "$pid" 2>/dev/null || true
            fi
            echo "moto.sh: stopped moto (pid $pid)" >&2
        fi
    fi
    rm -f "$pid_file" "$port_file"
}

usage() {
    echo "usage: scripts/moto.sh install|start|stop|endpoint" >&2
    exit 2
}

[[ $# -eq 1 ]] || usage
case "$1" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
endpoint) cmd_endpoint ;;
*) usage ;;
esac
