#!/usr/bin/env bash
# Runs a migration of N small objects through the loopback fault proxy and prints how many runs it needs.
#
#   scripts/bench-migrate-faults.sh RATE SEED [N]     e.g.  scripts/bench-migrate-faults.sh 0.1 3 300
#
# Needs a running moto (scripts/moto.sh start) and a built binary (BIN, default target/debug/s3rec).
# The bucket is created by `apply` and filled directly on moto; then the manifest is pointed at
# scripts/fault-proxy.py, which faults RATE of all requests (503 SlowDown, reset, lost response, cut
# body; seeded with SEED), and `migrate run` is repeated up to three times until it exits 0. Prints one
# line per run (exit code, objects failed), the status row, and how many requests were faulted.
set -u
RATE=$1
SEED=$2
N=${3:-300}
repo="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
BIN=${BIN:-$repo/target/debug/s3rec}
MOTO=$("$repo/scripts/moto.sh" endpoint) || exit 1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing NO_COLOR=1
D=$(mktemp -d)
cd "$D" || exit 1
ENV=mf$(basename "$D" | tr -dc 'a-z0-9')$RANDOM
BUCKET=$ENV-old
mkdir environments
write() {
    printf 'environment: %s\naws:\n  region: us-east-1\n  endpoint_url: %s\n  force_path_style: true\nbuckets:\n  old:\n    name: %s\n%s' \
        "$ENV" "$1" "$BUCKET" "$2" > "environments/$ENV.yaml"
}
write "$MOTO" ""
"$BIN" apply -e "$ENV" --auto-approve > /dev/null 2>&1 || { echo "apply failed"; exit 2; }
mkdir seed
for i in $(seq 0 $((N - 1))); do head -c $((1000 + (i * 7919) % 200000)) /dev/urandom > "seed/$i.bin"; done
# moto parses a body sent as a form (curl's default content type) and stalls on binary data.
seq 0 $((N - 1)) | xargs -P 8 -I{} curl -sf -o /dev/null -H "Expect:" -H "Content-Type: application/octet-stream" \
    -X PUT --data-binary @seed/{}.bin "$MOTO/$BUCKET/obj/{}.bin"
python3 "$repo/scripts/fault-proxy.py" --upstream "$MOTO" --rate "$RATE" --seed "$SEED" \
    --faults slowdown,reset,lost-response,cut-body --log proxy.log > proxy.ep &
proxy=$!
for _ in $(seq 50); do [ -s proxy.ep ] && break; sleep 0.1; done
write "$(head -1 proxy.ep)" $'migrations:\n  retire:\n    bucket: old\n    destination: archive\n'
for run in 1 2 3; do
    "$BIN" migrate -e "$ENV" retire run > "out$run" 2> "err$run"
    code=$?
    echo "rate=$RATE seed=$SEED run=$run exit=$code failed=$(grep -c '  failed:' "err$run")"
    [ "$code" = 0 ] && break
done
"$BIN" migrate -e "$ENV" retire status 2> /dev/null | tail -1
kill "$proxy"
echo "faults: $(grep -vc $'\tok$' proxy.log) of $(wc -l < proxy.log) requests; files in $D"
