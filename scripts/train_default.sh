#!/usr/bin/env bash
# Reproduce tonecraft's default model from scratch, offline, on CPU (`make train-default`):
#   render corpus -> train codec -> export -> token caches -> train LM (MiniLM text) -> fine-tune it with the
#   tempo embedding -> export -> fine-tune the codec's decoder (tokens unchanged) -> package into
#   src/tonecraft/assets/default -> measure (scripts/eval_default_metrics.py).
#
# Environment (all optional):
#   DATA=~/tonecraft-data     where the corpus, token caches and runs go (outside the work tree)
#   HOURS=20                  corpus size (7,200 x 10 s clips for 20 h)
#   CODEC_STEPS=... CODEC_FINAL_STEPS=... LM_STEPS=... LM_TEMPO_STEPS=... DECODER_STEPS=...   steps (defaults: the
#                             shipped model's schedule; its stage-1 LM run was stopped by wall time before
#                             LM_STEPS, see the model card)
#   CFG_COEF=3.0              guidance scale stored as the packaged model's default
#   CODEC_MINUTES / LM_MINUTES / LM_TEMPO_MINUTES   optional wall-clock caps: the run is stopped (SIGTERM saves a checkpoint)
#                                  and exported at that point; resume later with `tonecraft train X --resume RUN`
#   THREADS=1                 torch threads per process (1 is fastest on a busy 2-core machine)
#   NPROC=2                   processes for the token cache shards and the LM's torchrun ranks
#   OUT=src/tonecraft/assets/default
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TC="$PY -m tonecraft.cli"
DATA=${DATA:-$HOME/tonecraft-data}
HOURS=${HOURS:-20}
CORPUS=${CORPUS:-$DATA/corpus-v1}
CODEC_RUN=${CODEC_RUN:-$DATA/runs/default_codec}
LM_RUN=${LM_RUN:-$DATA/runs/default_lm}
LM_TEMPO_RUN=${LM_TEMPO_RUN:-$DATA/runs/default_lm_tempo}
TOKENS=${TOKENS:-$DATA/tokens/default}
CODEC_STEPS=${CODEC_STEPS:-4000}
CODEC_FINAL_STEPS=${CODEC_FINAL_STEPS:-4700}
CODEC_FINAL_LR=${CODEC_FINAL_LR:-1.5e-4}
LM_STEPS=${LM_STEPS:-3500}
LM_TEMPO_STEPS=${LM_TEMPO_STEPS:-3000}
DECODER_STEPS=${DECODER_STEPS:-18948}
DEC_RUN=${DEC_RUN:-$DATA/runs/default_codec_dec}
CFG_COEF=${CFG_COEF:-3.0}
NPROC=${NPROC:-2}
OUT=${OUT:-src/tonecraft/assets/default}
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

source scripts/train_lib.sh  # run_capped, resume_flag, build_token_caches

# 1. corpus (music21 corpus subsets + MMA grooves rendered with FluidSynth; see docs/CORPUS.md)
if [[ ! -f "$CORPUS/train.jsonl" || ! -f "$CORPUS/test.jsonl" ]]; then
  $TC corpus music --out "$CORPUS" --hours "$HOURS" --clip-seconds 10 --seed 0 --workers "${WORKERS:-2}"
fi

# 2. codec: CODEC_STEPS at the config's lr, then up to CODEC_FINAL_STEPS at CODEC_FINAL_LR (a step decay)
run_capped "${CODEC_MINUTES:-}" $TC train codec -c configs/default_codec.yaml $(resume_flag "$CODEC_RUN") \
  run.out_dir="$CODEC_RUN" run.steps="$CODEC_STEPS" data.train="$CORPUS/train.jsonl" data.valid="$CORPUS/valid.jsonl"
$TC train codec --resume "$CODEC_RUN" run.steps="$CODEC_FINAL_STEPS" optim.lr="$CODEC_FINAL_LR"
$TC train export "$CODEC_RUN" -o "$CODEC_RUN/export"

# 3. token caches (train / valid / test splits are held out by piece); the train split is encoded in
#    NPROC shards side by side, then merged
build_token_caches "$CORPUS" "$TOKENS" --codec "$CODEC_RUN/export"

# 4. LM stage 1: NPROC data-parallel ranks (torchrun, gloo on CPU); run.batch_size is the global batch
run_capped "${LM_MINUTES:-}" $PY -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m tonecraft.cli \
  train lm -c configs/default_lm.yaml $(resume_flag "$LM_RUN") \
  run.out_dir="$LM_RUN" run.steps="$LM_STEPS" data.cache="$TOKENS/train" data.valid_cache="$TOKENS/valid" \
  data.codec="$CODEC_RUN/export"

# 5. LM stage 2: fine-tune from the stage-1 checkpoint with the tempo embedding + beat grid (bpm from each caption)
run_capped "${LM_TEMPO_MINUTES:-}" $PY -m torch.distributed.run --standalone --nproc_per_node "$NPROC" \
  -m tonecraft.cli train lm -c configs/default_lm_tempo.yaml $(resume_flag "$LM_TEMPO_RUN") \
  model.init_from="$LM_RUN/checkpoint.pt" run.out_dir="$LM_TEMPO_RUN" run.steps="$LM_TEMPO_STEPS" \
  data.cache="$TOKENS/train" data.valid_cache="$TOKENS/valid" data.codec="$CODEC_RUN/export"
$TC train export "$LM_TEMPO_RUN" -o "$LM_TEMPO_RUN/export"

# 6. the codec's decoder fine-tuned (configs/default_codec_decoder.yaml): encoder and quantiser frozen, so the
#    tokens, and the LM trained on them, keep their meaning; constant lr, so stopping at DECODER_STEPS is the run
#    the shipped decoder was exported from
if [[ ! -f "$DEC_RUN/export/config.json" ]]; then
  $TC train codec -c configs/default_codec_decoder.yaml $(resume_flag "$DEC_RUN") model.init_from="$CODEC_RUN/export" \
    run.out_dir="$DEC_RUN" run.steps="$DECODER_STEPS" data.train="$CORPUS/train.jsonl" data.valid="$CORPUS/valid.jsonl"
  $TC train export "$DEC_RUN" -o "$DEC_RUN/export"
fi

# 7. package + measure
$PY scripts/package_default.py --lm "$LM_TEMPO_RUN/export" --codec "$DEC_RUN/export" -o "$OUT" --cfg-coef "$CFG_COEF" \
  --temperature 0.7 --top-k 100
$PY scripts/eval_default_metrics.py --model "$OUT" --test-manifest "$CORPUS/test.jsonl" --test-cache "$TOKENS/test" \
  -o "$DATA/runs/default_metrics.json"
echo "default model written to $OUT (metrics: $DATA/runs/default_metrics.json); update $OUT/MODEL_CARD.md"
