#!/usr/bin/env bash
# Provokes, in this checkout, the faults of docs/reliability.md's table "Nothing
# executed, nothing destroyed" and prints what each did. Run it from a fresh clone
# after `make run` (it needs MovieLens 100K split, a model and a champion):
#
#     bash src/vaeops/tools/fault_probe.sh 2>&1 | tee fault_probe.log
#
# It needs unshare (util-linux) for the full disk and the PID namespace, curl, and
# nginx for the proxy case (skipped, and said so, without it). It changes this
# checkout's data/ and mlflow.db: use a throwaway clone.
set -uo pipefail
cd "$(dirname "$0")/../../.."
export KEDRO_DISABLE_TELEMETRY=1 COLUMNS=200 MLFLOW_TRACKING_URI=sqlite:///mlflow.db
KEDRO=.venv/bin/kedro
PY=.venv/bin/python
CHECKPOINT=data/06_models/checkpoints/training.pt
SHORT=training.epochs=3

case_() { printf '\n===== %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" 2>&1 | grep -v '^[│╭╰]' | grep -E "$PATTERN" | tail -n 6; echo "exit ${PIPESTATUS[0]}"; }
run_status() {
  $PY - "$@" <<'EOF'
import sys, mlflow
client = mlflow.MlflowClient()
experiment = client.get_experiment_by_name("vaeops")
for run in client.search_runs([experiment.experiment_id], max_results=int(sys.argv[1])):
    print(run.info.run_name, run.info.status, run.data.tags.get("vaeops.end_reason", ""))
EOF
}
PATTERN='Error|error|Resuming|Checkpoint|checkpoint|No champion|Registered|no space|Kept|Ended|KILLED|decision'

case_ "1. A checkpoint whose pickle calls os.system"
mkdir -p "$(dirname $CHECKPOINT)"
rm -f /tmp/vaeops-pwned
$PY -c "
import os, torch
class Planted:
    def __reduce__(self):
        return (os.system, ('touch /tmp/vaeops-pwned',))
torch.save({'fingerprint': Planted(), 'loop': {}, 'progress': {}}, '$CHECKPOINT')"
show $KEDRO run --pipelines training --params $SHORT
echo "/tmp/vaeops-pwned exists: $([ -e /tmp/vaeops-pwned ] && echo yes || echo no)"
ls "$(dirname $CHECKPOINT)"

for damage in truncated random empty; do
  case_ "2. A $damage checkpoint"
  case $damage in
    truncated) $PY -c "import torch; torch.save({'w': torch.randn(300, 300)}, '$CHECKPOINT')"
               truncate -s 100000 $CHECKPOINT ;;
    random) head -c 100000 /dev/urandom > $CHECKPOINT ;;
    empty) : > $CHECKPOINT ;;
  esac
  show $KEDRO run --pipelines training --params $SHORT
done
rm -f "$(dirname $CHECKPOINT)"/training.pt.corrupt-*

# A tmpfs over data/06_models holding its files with 1 MiB to spare: less than a new
# model_weights.pt needs.
room=$(( $(du -sk data/06_models | cut -f1) + 1024 ))k
case_ "3. A full disk while the model is saved (data/06_models on a $room tmpfs)"
before=$(sha256sum data/06_models/model_weights.pt | cut -c1-16)
echo "model_weights.pt before: $before"
unshare --user --map-root-user --mount sh -c '
  cp -a data/06_models /tmp/vaeops-models
  mount -t tmpfs -o size=$0 tmpfs data/06_models && cp -a /tmp/vaeops-models/. data/06_models/
  .venv/bin/kedro run --pipelines training --params training.epochs=3,checkpoint.dir=data/checkpoints 2>&1 \
    | grep -v "^[│╭╰]" | grep -E "no space|Kept" | tail -n 3
  echo "model_weights.pt after: $(sha256sum data/06_models/model_weights.pt | cut -c1-16)"
  echo "left in data/06_models: $(ls -A data/06_models | tr "\n" " ")"' "$room"
rm -rf /tmp/vaeops-models
ls data/checkpoints
show $KEDRO run --pipelines training --params training.epochs=3,checkpoint.dir=data/checkpoints
echo "data/checkpoints after the rerun: $(ls -A data/checkpoints | tr '\n' ' ')"

case_ "4. The champion alias deleted, then the champion version deleted"
$PY -c "import mlflow; mlflow.MlflowClient().delete_registered_model_alias('vaeops-multvae-ml-100k', 'champion')"
show $KEDRO run --pipelines registration
version=$($PY -c "import mlflow; print(mlflow.MlflowClient().get_registered_model('vaeops-multvae-ml-100k').aliases['champion'])")
$PY -c "import mlflow; mlflow.MlflowClient().delete_model_version('vaeops-multvae-ml-100k', '$version')"
echo "deleted champion version $version"
show $KEDRO run --pipelines retraining
tail -n 1 data/08_reporting/retraining_log.jsonl | $PY -c "import json,sys; d=json.load(sys.stdin); print(d['outcome'], d['promoted'], d['challenger_version'])"

case_ "5. A password in the Optuna storage URL and in the tracking URI"
show $KEDRO run --pipelines tuning --params "tuning.study.storage=postgresql://alice:Pr0be-7f3k@127.0.0.1:9/optuna"
$PY - <<'EOF'
import mlflow
client = mlflow.MlflowClient()
(run,) = client.search_runs([client.get_experiment_by_name("vaeops").experiment_id], max_results=1)
print("param:", run.data.params["tuning.study.storage"])
print("tag runtime_params:", run.data.tags["runtime_params"])
EOF
echo "files holding the password: $(grep -rl Pr0be-7f3k mlflow.db mlruns info.log 2>/dev/null | wc -l)"
MLFLOW_TRACKING_URI=http://alice:Pr0be-7f3k@127.0.0.1:9 show $KEDRO run --pipelines training

case_ "6. Two trainings in one folder"
$KEDRO run --pipelines training > /tmp/vaeops-first.log 2>&1 &
first=$!
until [ -e $CHECKPOINT ]; do sleep 0.2; done
show $KEDRO run --pipelines training
wait $first; echo "first run: exit $?"

case_ "7. A live run in another PID namespace, then killed"
unshare --pid --fork --mount-proc --kill-child \
  $KEDRO run --pipelines training --params checkpoint.dir=data/checkpoints-container \
  > /tmp/vaeops-container.log 2>&1 &
container=$!
until [ -e data/checkpoints-container/training.pt ]; do sleep 0.2; done
show $KEDRO run --pipelines evaluation
run_status 3
kill -9 $container; wait $container 2>/dev/null
show $KEDRO run --pipelines evaluation
run_status 3
rm -rf data/checkpoints-container

case_ "8. A misspelt pipeline"
show $KEDRO run --pipelines trainnig

case_ "9. A request without Content-Type"
PATH="$PWD/.venv/bin:$PATH" mlflow models serve -m models:/vaeops-multvae-ml-100k@champion --env-manager local \
  --host 127.0.0.1 --port 5001 > /tmp/vaeops-serve.log 2>&1 &
server=$!
for _ in $(seq 240); do curl -sf http://127.0.0.1:5001/ping >/dev/null && break; sleep 0.5; done
body='{"dataframe_records": [{"history": [50]}]}'
echo "direct, no Content-Type: HTTP $(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type:' --data "$body" http://127.0.0.1:5001/invocations)"
if command -v nginx >/dev/null; then
  mkdir -p /tmp/vaeops-nginx
  sed -n '/^```nginx$/,/^```$/p' docs/serving.md | sed '1d;$d' > /tmp/vaeops-nginx/site.conf
  printf 'pid /tmp/vaeops-nginx/nginx.pid;\nerror_log /tmp/vaeops-nginx/error.log;\nevents {}\nhttp {\naccess_log off;\ninclude /tmp/vaeops-nginx/site.conf;\n}\n' > /tmp/vaeops-nginx/nginx.conf
  nginx -c /tmp/vaeops-nginx/nginx.conf
  echo "via nginx, no Content-Type: HTTP $(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type:' --data "$body" http://127.0.0.1:8080/invocations)"
  echo "via nginx, JSON: HTTP $(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data "$body" http://127.0.0.1:8080/invocations)"
  nginx -c /tmp/vaeops-nginx/nginx.conf -s stop
else
  echo "nginx is not installed: the proxy case was not run"
fi
kill $server
