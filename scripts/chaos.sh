#!/usr/bin/env bash
# The repeatable fault campaign of issue 11: s3rec apply, sync and migrate SIGKILLed at random points,
# and run through a loopback fault proxy, each then checked against the moto emulator. docs/chaos.md
# describes every scenario and check.
#
#   scripts/chaos.sh                      # the whole campaign (7 to 9 minutes on 2 cores)
#   scripts/chaos.sh --quick              # 5 kills and 1 seed per scenario, small data (about a minute)
#   scripts/chaos.sh --only sync --kills 50 --seeds 0
#
# Options:
#   --only SCENARIO   apply, sync or migrate; repeatable (default: all three)
#   --kills N         kill rounds per scenario (default 20; 0 skips the kill campaign)
#   --seeds N         fault-proxy seeds per scenario and rate (default 5; 0 skips the fault campaign)
#   --rates LIST      comma-separated fault rates (default 0.10,0.30)
#   --seed N          seed of the kill delays and the generated data (default 1)
#   --quick           5 kills, 1 seed and small data unless given otherwise
#   --debug           build and run the debug binary instead of the release one
#   --no-build        use the binary already built
#   --build-lock FILE run the build under `flock FILE` (for machines where builds take turns)
#   --keep            keep every project directory (by default only those of failing rounds are kept)
#   --json FILE       also write every round's findings as JSON
#
# moto is reused when `scripts/moto.sh start` already runs one (and left running); one started here is
# stopped on exit. Projects live in target/chaos/RUN/. The summary table goes to stdout, progress to
# stderr. Exit status: 0 when every target of the issue is met, 1 when one is missed, 2 on a usage or
# set-up error.
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"
moto="$script_dir/moto.sh"

die() {
    echo "chaos.sh: $*" >&2
    exit 2
}

profile=release
build=1
build_lock=""
campaign_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --debug) profile=debug ;;
    --no-build) build=0 ;;
    --build-lock)
        [[ $# -ge 2 ]] || die "--build-lock needs a file"
        build_lock="$2"
        shift
        ;;
    --quick | --keep) campaign_args+=("$1") ;;
    --only | --kills | --seeds | --rates | --seed | --json)
        [[ $# -ge 2 ]] || die "$1 needs a value"
        campaign_args+=("$1" "$2")
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

if [[ "$build" == 1 ]]; then
    cargo_args=(build --locked --quiet)
    [[ "$profile" == release ]] && cargo_args+=(--release)
    echo "chaos.sh: building s3rec (cargo ${cargo_args[*]})" >&2
    if [[ -n "$build_lock" ]]; then
        (cd "$repo_root" && flock "$build_lock" cargo "${cargo_args[@]}") || die "cargo build failed"
    else
        (cd "$repo_root" && cargo "${cargo_args[@]}") || die "cargo build failed"
    fi
fi
built="$repo_root/target/$profile/s3rec"
[[ -x "$built" ]] || die "$built does not exist: build it, or run without --no-build"

started_here=0
if endpoint="$(bash "$moto" endpoint 2>/dev/null)"; then
    echo "chaos.sh: using the running moto at $endpoint" >&2
else
    endpoint="$(bash "$moto" start)" || die "could not start moto (scripts/moto.sh start)"
    started_here=1
fi

work="$repo_root/target/chaos"
mkdir -p "$work"
# A private copy of the binary: a `cargo build` in the checkout during the campaign must not swap it.
binary="$work/s3rec.$$"
cp "$built" "$binary"

cleanup() {
    rm -f "$binary"
    if [[ "$started_here" == 1 ]]; then
        bash "$moto" stop || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

status=0
"$repo_root/.venv-moto/bin/python" -B "$script_dir/chaos/campaign.py" \
    --binary "$binary" --endpoint "$endpoint" --proxy "$script_dir/fault-proxy.py" --workdir "$work" \
    ${campaign_args[@]+"${campaign_args[@]}"} || status=$?
exit "$status"
