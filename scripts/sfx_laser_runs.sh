#!/usr/bin/env bash
# The issue-15 laser experiments that continue across sessions (not part of `make train-sfx`; results in the SFX
# model card, "Work on the laser since version 2"). Each run resumes from its checkpoint under $DATA/runs.
#
#   DATA=$HOME/tonecraft-data bash scripts/sfx_laser_runs.sh manifest   # focus + sweeps codec manifest
#   DATA=... bash scripts/sfx_laser_runs.sh v4s      # codec v3t + shift consistency (weight 2), 6,000 steps
#   DATA=... bash scripts/sfx_laser_runs.sh w32      # 32-filter SFX codec from scratch, 40,000 steps (~1.5 s/step)
#   DATA=... bash scripts/sfx_laser_runs.sh lm NAME CODEC_RUN INIT_LM   # the codec run's current weights -> token
#       caches (focus + sweeps + valid) -> INIT_LM (an LM export) fine-tuned on them (STEPS, default 1,500) ->
#       packaged with that codec in $DATA/sfx_NAME_pkg -> glide measure ($DATA/eval_sfx_NAME_glide.md)
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
  lm)
    name=${2:?name} codec_run=${3:?codec run folder} init=${4:?LM export to start from}
    codec=$DATA/codecs/sfx_codec_$name tokens=$DATA/tokens/sfx_$name run=$DATA/runs/sfx_lm_$name
    [[ -f "$codec/model.safetensors" ]] || $TC train export "$codec_run" -o "$codec"
    for part in "valid sfx-v1/valid.jsonl" "focus sfx-v1/train_focus.jsonl" "sweeps sfx-sweeps-v1/train_w05.jsonl"; do
      set -- $part
      [[ -f "$tokens/$1/index.json" ]] || $TC data cache "$DATA/$2" --codec "$codec" --tail-silence 0.5 -o "$tokens/$1" -q
    done
    [[ -f "$tokens/train/index.json" ]] || $TC data merge "$tokens/train" "$tokens/focus" "$tokens/sweeps"
    if [[ ! -d "$run/export" ]]; then
      if [[ -f "$run/checkpoint.pt" ]]; then $TC train lm --resume "$run"
      else $TC train lm -c configs/sfx_lm.yaml model.init_from="$init" run.out_dir="$run" run.steps=${STEPS:-1500} \
             optim.lr=6e-4 optim.warmup_steps=50 data.caption_variant_p=0.5 data.caption_variant_style=sfx \
             data.cache="$tokens/train" data.valid_cache="$tokens/valid" data.codec="$codec" data.sample_on_weight=true
      fi
      $TC train export "$run" -o "$run/export"
    fi
    .venv/bin/python scripts/package_default.py --name tonecraft-sfx-default --lm "$run/export" --codec "$codec" \
      -o "$DATA/sfx_${name}_pkg" --cfg-coef 3.0 --max-duration 5
    .venv/bin/python bench/eval_sfx.py --corpus "$DATA/sfx-v1" --model "$DATA/sfx_${name}_pkg" --parts glide \
      --prompt-seeds 3 --out "$DATA/eval_sfx_${name}_glide.json" --md "$DATA/eval_sfx_${name}_glide.md"
    ;;
  *) echo "usage: DATA=DIR $0 manifest|v4s|w32|lm NAME CODEC_RUN INIT_LM" >&2; exit 2 ;;
esac
