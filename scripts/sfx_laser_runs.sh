#!/usr/bin/env bash
# The issue-15 laser experiments that continue across sessions (not part of `make train-sfx`; results in the SFX
# model card, "Work on the laser since version 2"). Each run resumes from its checkpoint under $DATA/runs.
#
#   DATA=$HOME/tonecraft-data bash scripts/sfx_laser_runs.sh manifest   # focus + sweeps codec manifest
#   DATA=... bash scripts/sfx_laser_runs.sh v4s      # codec v3t + shift consistency (weight 2), 6,000 steps
#   DATA=... bash scripts/sfx_laser_runs.sh w32      # 32-filter SFX codec from scratch, 40,000 steps (~1.5 s/step)
#
# Needs: $DATA/sfx-v1 (`tonecraft corpus sfx --seed 0`) with train_focus.jsonl (scripts/sfx_focus_manifest.py
# --weight 3), $DATA/sfx-sweeps-v1 (`tonecraft corpus sfx --synth-kinds laser,jump,powerup --seed 1`) with
# train_w05.jsonl (its train manifest, weight 0.5), and codec v3t at step 8,207 in $DATA/codecs/sfx_codec_v3t
# (snapshots/sfx_codec_v3t at commit 13f437a).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:?set DATA to the training data folder}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1
TC=".venv/bin/tonecraft"
MANIFEST=$DATA/sfx_codec_focus_sweeps.jsonl
common=(data.sample_on_duration=false data.sample_on_weight=true data.train=$MANIFEST data.valid=$DATA/sfx-v1/valid.jsonl)

resume_or() {  # run folder, then the arguments of a fresh start
  local run=$1; shift
  if [[ -f "$run/checkpoint.pt" ]]; then exec nice -n 5 $TC train codec --resume "$run"; fi
  exec nice -n 5 $TC train codec -c configs/sfx_codec.yaml run.out_dir="$run" "${common[@]}" "$@"
}

case "${1:-}" in
  manifest)  # both train manifests in one, with absolute paths (their weights kept)
    .venv/bin/python - "$DATA" "$MANIFEST" <<'PY'
import json, os, sys
data, out = sys.argv[1], sys.argv[2]
with open(out + ".tmp", "w") as f:
    for m in ("sfx-v1/train_focus.jsonl", "sfx-sweeps-v1/train_w05.jsonl"):
        base = os.path.dirname(os.path.join(data, m))
        for line in open(os.path.join(data, m)):
            row = json.loads(line)
            row["path"] = os.path.join(base, row["path"])
            f.write(json.dumps(row) + "\n")
os.replace(out + ".tmp", out)
PY
    ;;
  v4s) resume_or "$DATA/runs/sfx_codec_v4s" model.init_from="$DATA/codecs/sfx_codec_v3t" 'model.params={}' \
         run.steps=20000 losses.l1=0.1 losses.msspec=1.0 losses.shift_consistency=2 ;;
  w32) resume_or "$DATA/runs/sfx_codec_w32" model.params.n_filters=32 model.params.name=tonecraft-sfx-codec-w32 \
         run.steps=40000 run.checkpoint_every=100 ;;
  *) echo "usage: DATA=DIR $0 manifest|v4s|w32" >&2; exit 2 ;;
esac
