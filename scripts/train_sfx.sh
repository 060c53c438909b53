#!/usr/bin/env bash
# Reproduce tonecraft's sound-effects model from scratch, offline, on CPU (`make train-sfx`, issue 15):
#   render the SFX corpus -> train the 16 kHz codec -> export -> token caches -> train the LM (MiniLM text)
#   -> export -> package into src/tonecraft/assets/sfx -> measure (bench/eval_sfx.py).
#
# Environment (all optional):
#   DATA=~/tonecraft-data     where the corpus, token caches and runs go (outside the work tree)
#   CODEC_STEPS=... LM_STEPS=...   training steps (defaults: the shipped model's schedule, see its model card)
#   CODEC_MINUTES / LM_MINUTES     optional wall-clock caps: the run is stopped (SIGTERM saves a checkpoint) and
#                                  exported at that point; resume later with `tonecraft train X --resume RUN`
#   CFG_COEF=3.0              guidance scale stored as the packaged model's default
#   THREADS=1                 torch threads per process (1 is fastest on a busy 2-core machine)
#   NPROC=1                   processes for the token cache shards and the LM's torchrun ranks
#   OUT=src/tonecraft/assets/sfx
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TC="$PY -m tonecraft.cli"
DATA=${DATA:-$HOME/tonecraft-data}
CORPUS=${CORPUS:-$DATA/sfx-v1}
CODEC_RUN=${CODEC_RUN:-$DATA/runs/sfx_codec}
LM_RUN=${LM_RUN:-$DATA/runs/sfx_lm}
TOKENS=${TOKENS:-$DATA/tokens/sfx}
CODEC_STEPS=${CODEC_STEPS:-1124}
LM_STEPS=${LM_STEPS:-1800}
CFG_COEF=${CFG_COEF:-3.0}
NPROC=${NPROC:-1}
OUT=${OUT:-src/tonecraft/assets/sfx}
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

source scripts/train_lib.sh  # run_capped, resume_flag, build_token_caches

# 1. corpus: Debian game/theme packages' recorded sounds + procedural SFX, 16 kHz mono (docs/SFX_CORPUS.md)
if [[ ! -f "$CORPUS/train.jsonl" || ! -f "$CORPUS/test.jsonl" ]]; then
  $TC corpus sfx --out "$CORPUS" --seed 0 --workers "${WORKERS:-2}"
fi

# 2. codec (configs/sfx_codec.yaml: SEANet 16 filters, RVQ 4 x 1024 at 50 Hz)
run_capped "${CODEC_MINUTES:-}" $TC train codec -c configs/sfx_codec.yaml $(resume_flag "$CODEC_RUN") \
  run.out_dir="$CODEC_RUN" run.steps="$CODEC_STEPS" data.train="$CORPUS/train.jsonl" data.valid="$CORPUS/valid.jsonl"
$TC train export "$CODEC_RUN" -o "$CODEC_RUN/export"

# 3. token caches (splits are held out by source file); each sound is encoded with 0.5 s of silence after it, and
#    the LM pads short sounds with the codes of silence (data.pad_with_silence) so that it learns where they end
build_token_caches "$CORPUS" "$TOKENS" --codec "$CODEC_RUN/export" --tail-silence 0.5

# 4. LM (configs/sfx_lm.yaml): NPROC data-parallel ranks (torchrun, gloo on CPU); run.batch_size is the global batch
run_capped "${LM_MINUTES:-}" $PY -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m tonecraft.cli \
  train lm -c configs/sfx_lm.yaml $(resume_flag "$LM_RUN") \
  run.out_dir="$LM_RUN" run.steps="$LM_STEPS" data.cache="$TOKENS/train" data.valid_cache="$TOKENS/valid" \
  data.codec="$CODEC_RUN/export"
$TC train export "$LM_RUN" -o "$LM_RUN/export"

# 5. package + measure
$PY scripts/package_default.py --name tonecraft-sfx-default --lm "$LM_RUN/export" --codec "$CODEC_RUN/export" \
  -o "$OUT" --cfg-coef "$CFG_COEF" --max-duration 5
echo "sound-effects model written to $OUT; measure it with bench/eval_sfx.py and update $OUT/MODEL_CARD.md"
