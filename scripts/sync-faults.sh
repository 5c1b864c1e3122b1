#!/usr/bin/env bash
# Measures sync under faults: 300 small files and three 12 MiB multipart files synced through
# scripts/fault-proxy.py (slowdown, reset, lost-response, cut-body at RATE, seeded) in front of a running
# moto (scripts/moto.sh start), up to RUNS runs until one exits 0; then every object is compared with its
# file and the multipart uploads still in progress are counted, straight from moto.
#
# usage: scripts/sync-faults.sh SEED RATE [RUNS]      e.g. for s in 1 2 3 4 5; do scripts/sync-faults.sh $s 0.1; done
set -u
seed=$1; rate=$2; runs=${3:-1}
wt=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
bin=${BIN:-$wt/target/debug/s3rec}
moto=$(cd $wt && scripts/moto.sh endpoint)
d=$(mktemp -d /tmp/s3rec-sync-faults.XXXX)
cd $d
python3 $wt/scripts/fault-proxy.py --upstream $moto --rate $rate --seed $seed --faults slowdown,reset,lost-response,cut-body --log $d/proxy.log > $d/ep 2>/dev/null &
ppid=$!
while [ ! -s $d/ep ]; do sleep 0.1; done
ep=$(head -1 $d/ep)
env=f$seed$(date +%s%N | tail -c 7)
bucket=$env-data
mkdir -p environments src
python3 - <<PY
import os, random
r = random.Random($seed)
for i in range(300):
    p = f"src/d{i%7}/f{i}.bin"
    os.makedirs(os.path.dirname(p), exist_ok=True)
    n = r.randint(0, 20000)
    open(p, "wb").write(r.randbytes(n))
for i in range(3):
    open(f"src/big{i}.bin", "wb").write(r.randbytes(12*1024*1024 + i))
PY
cat > environments/$env.yaml <<Y
environment: $env
aws:
  region: us-east-1
  endpoint_url: $ep
  force_path_style: true
buckets:
  data:
    name: $bucket
sync:
  files:
    source: src
    bucket: data
    prefix: backup/
    delete: true
    multipart_threshold: 5 MiB
    multipart_chunk_size: 5 MiB
Y
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing NO_COLOR=1
# the bucket is created directly against moto
AWS_ENDPOINT_URL=$moto python3 - <<PY
import urllib.request
urllib.request.urlopen(urllib.request.Request("$moto/$bucket", method="PUT")).read()
PY
for r in $(seq 1 $runs); do
  $bin sync -e $env > $d/out$r 2> $d/err$r; code=$?
  echo "seed=$seed rate=$rate run=$r exit=$code $(grep -o 'sync.files: .*' $d/err$r | head -1)"
  [ $code = 0 ] && break
done
# verify: every object equal, no uploads in progress (straight to moto)
$wt/.venv-moto/bin/python - <<PY
import os, boto3
s3=boto3.client("s3", endpoint_url="$moto", region_name="us-east-1")
moto="$moto"; b="$bucket"
bad=0; n=0
for root,_,files in os.walk("src"):
    for f in files:
        p=os.path.join(root,f); k="backup/"+os.path.relpath(p,"src")
        n+=1
        try: body=s3.get_object(Bucket=b, Key=k)["Body"].read()
        except Exception as e: bad+=1; continue
        if body!=open(p,"rb").read(): bad+=1
orph=len(s3.list_multipart_uploads(Bucket=b).get("Uploads", []))
print(f"  objects ok={n-bad} bad/missing={bad} in-progress uploads={orph} faults={sum(1 for l in open('$d/proxy.log') if not l.rstrip().endswith('ok'))}")
PY
grep failed: $d/err* | head -5
kill $ppid
