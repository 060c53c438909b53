#!/usr/bin/env bash
# Reproduce tonecraft's sound-effects model from scratch, offline, on CPU (`make train-sfx`, issue 15):
#   render the SFX corpus -> codec v1 -> token caches v1 -> LM v1 (MiniLM text) -> codec v2 (codec v1 trained on,
#   crops uniform over clips from its step 3,196) -> token caches v2 -> LM fine-tuned on them with caption
#   variants (two cosine cycles) -> a corpus of codec-friendly lasers ("zaps") and the LM taught them (three
#   stages) -> a corpus of noisy laser blasts ("blasters") and the LM taught them (two stages) -> package into
#   src/tonecraft/assets/sfx -> measure (bench/eval_sfx.py).
# Every stage is skipped when its export exists and resumes from its checkpoint when stopped.
#
# Environment (all optional):
#   DATA=~/tonecraft-data     where the corpus, token caches and runs go (outside the work tree)
#   CODEC_STEPS / CODEC2_STEPS / LM_STEPS / LM2_STEPS / LM3_STEPS / ZAP_STEPS / BLAST_STEPS   training steps
#                             (defaults: the shipped model's; ZAP_STEPS: the three zap stages, "1200 600 1500";
#                             BLAST_STEPS: the two blaster stages, "600 1500")
#   CODEC_MINUTES / LM_MINUTES     optional wall-clock caps for the v1 codec and LM: the run is stopped
#                                  (SIGTERM saves a checkpoint) and exported at that point
#   CFG_COEF=3.0 TEMPERATURE=0.6 TOP_K=50   sampling defaults stored in the packaged model
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
CODEC2_RUN=${CODEC2_RUN:-$DATA/runs/sfx_codec_v2}
LM_RUN=${LM_RUN:-$DATA/runs/sfx_lm}
LM2_RUN=${LM2_RUN:-$DATA/runs/sfx_lm_v3}
LM3_RUN=${LM3_RUN:-$DATA/runs/sfx_lm_v3b}
TOKENS=${TOKENS:-$DATA/tokens/sfx}
TOKENS2=${TOKENS2:-$DATA/tokens/sfx_v2}
CODEC_STEPS=${CODEC_STEPS:-1124}
CODEC2_STEPS=${CODEC2_STEPS:-8150}
LM_STEPS=${LM_STEPS:-1800}
LM2_STEPS=${LM2_STEPS:-2000}
LM3_STEPS=${LM3_STEPS:-2000}
ZAP_STEPS=(${ZAP_STEPS:-1200 600 1500})
CFG_COEF=${CFG_COEF:-3.0}
TEMPERATURE=${TEMPERATURE:-0.6}
TOP_K=${TOP_K:-50}
NPROC=${NPROC:-1}
OUT=${OUT:-src/tonecraft/assets/sfx}
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

source scripts/train_lib.sh  # run_capped, resume_flag, build_token_caches

# 1. corpus: Debian game/theme packages' recorded sounds + procedural SFX, 16 kHz mono (docs/SFX_CORPUS.md)
if [[ ! -f "$CORPUS/train.jsonl" || ! -f "$CORPUS/test.jsonl" ]]; then
  $TC corpus sfx --out "$CORPUS" --seed 0 --workers "${WORKERS:-2}"
fi

# 2. codec v1 (configs/sfx_codec.yaml: SEANet 16 filters, RVQ 4 x 1024 at 50 Hz), crops in proportion to clip length
if [[ ! -f "$CODEC_RUN/export/config.json" ]]; then
  run_capped "${CODEC_MINUTES:-}" $TC train codec -c configs/sfx_codec.yaml $(resume_flag "$CODEC_RUN") \
    run.out_dir="$CODEC_RUN" run.steps="$CODEC_STEPS" data.train="$CORPUS/train.jsonl" data.valid="$CORPUS/valid.jsonl"
  $TC train export "$CODEC_RUN" -o "$CODEC_RUN/export"
fi

# 3. token caches v1 (splits are held out by source file); each sound is encoded with 0.5 s of silence after it,
#    and the LM pads short sounds with the codes of silence (data.pad_with_silence) so that it learns where they end
build_token_caches "$CORPUS" "$TOKENS" --codec "$CODEC_RUN/export" --tail-silence 0.5

# 4. LM v1 (configs/sfx_lm.yaml): NPROC data-parallel ranks (torchrun, gloo on CPU); run.batch_size is the global batch
if [[ ! -f "$LM_RUN/export/config.json" ]]; then
  run_capped "${LM_MINUTES:-}" $PY -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m tonecraft.cli \
    train lm -c configs/sfx_lm.yaml $(resume_flag "$LM_RUN") \
    run.out_dir="$LM_RUN" run.steps="$LM_STEPS" data.cache="$TOKENS/train" data.valid_cache="$TOKENS/valid" \
    data.codec="$CODEC_RUN/export"
  $TC train export "$LM_RUN" -o "$LM_RUN/export"
fi

# 5. codec v2: codec v1 trained on (the v1 codec smears synthesiser sweeps and chimes into noise bursts): 3,196
#    steps with crops in proportion to clip length, then uniform over clips (data.sample_on_duration=false), so
#    the thousands of short synthesiser sounds are seen as often as the long ambiences
if [[ ! -f "$CODEC2_RUN/export/config.json" ]]; then
  if [[ ! -f "$CODEC2_RUN/checkpoint.pt" ]]; then
    $TC train codec -c configs/sfx_codec.yaml model.init_from="$CODEC_RUN/export" 'model.params={}' \
      run.out_dir="$CODEC2_RUN" run.steps=3196 data.train="$CORPUS/train.jsonl" data.valid="$CORPUS/valid.jsonl"
  fi
  $TC train codec --resume "$CODEC2_RUN" run.steps="$CODEC2_STEPS" data.sample_on_duration=false
  $TC train export "$CODEC2_RUN" -o "$CODEC2_RUN/export"
fi

# 6. token caches v2, and the LM v1 fine-tuned on them: half the captions rewritten in other words
#    (data.caption_variants, the sfx rules), a cosine cycle at lr 8e-4, then a second one at 4e-4
build_token_caches "$CORPUS" "$TOKENS2" --codec "$CODEC2_RUN/export" --tail-silence 0.5
finetune() {  # finetune INIT RUN STEPS LR [OVERRIDES...]
  [[ -f "$2/export/config.json" ]] && return 0
  $TC train lm -c configs/sfx_lm.yaml $(resume_flag "$2") model.init_from="$1" run.out_dir="$2" run.steps="$3" \
    optim.lr="$4" optim.warmup_steps=50 data.caption_variant_p=0.5 data.caption_variant_style=sfx \
    data.cache="$TOKENS2/train" data.valid_cache="$TOKENS2/valid" data.codec="$CODEC2_RUN/export" "${@:5}"
  $TC train export "$2" -o "$2/export"
}
finetune "$LM_RUN/export" "$LM2_RUN" "$LM2_STEPS" 8e-4
finetune "$LM2_RUN/export" "$LM3_RUN" "$LM3_STEPS" 4e-4

# 7. lasers the codec can carry (issue 15): jsfxr's lasers come out of the codec as a broadband smear, plain glides
#    under 1.5 kHz ("zap", docs/SFX_CORPUS.md) keep their pitch line. The LM learns them in three stages: the main
#    cache + the zaps (22 % of draws), the zaps alone (the LM only drew their falling line after this), the main
#    cache + the zaps twice (36 %) with caption variants at 0.7, so that every other category comes back
ZAPS=${ZAPS:-$DATA/sfx-zaps-v1}
ZTOK=$DATA/tokens/zaps_v2
[[ -f "$ZAPS/train.jsonl" ]] || $TC corpus sfx --out "$ZAPS" --seed 3 --packages '' --synth-kinds zap --synth-hours 1.5
for split in train valid; do
  [[ -f "$ZTOK/$split/index.json" ]] || \
    $TC data cache "$ZAPS/$split.jsonl" --codec "$CODEC2_RUN/export" --tail-silence 0.5 -o "$ZTOK/$split" -q
done
[[ -f "$TOKENS2/with_zaps/index.json" ]] || $TC data merge "$TOKENS2/with_zaps" "$TOKENS2/train" "$ZTOK/train"
[[ -f "$TOKENS2/with_zaps2/index.json" ]] || \
  $TC data merge "$TOKENS2/with_zaps2" "$TOKENS2/train" "$ZTOK/train" "$ZTOK/train"
finetune "$LM3_RUN/export" "$DATA/runs/sfx_lm_zap" "${ZAP_STEPS[0]}" 3e-4 data.cache="$TOKENS2/with_zaps"
finetune "$DATA/runs/sfx_lm_zap/export" "$DATA/runs/sfx_lm_zap_only" "${ZAP_STEPS[1]}" 3e-4 \
  optim.warmup_steps=20 data.caption_variant_p=0 data.cache="$ZTOK/train" data.valid_cache="$ZTOK/valid"
finetune "$DATA/runs/sfx_lm_zap_only/export" "$DATA/runs/sfx_lm_zap2" "${ZAP_STEPS[2]}" 3e-4 \
  data.caption_variant_p=0.7 data.cache="$TOKENS2/with_zaps2"

# 8. blasters (version 4): noisy falling laser blasts like the corpus's recorded sci-fi weapons ("blaster",
#    docs/SFX_CORPUS.md), taught as the zaps were: the blasters alone, then the main cache + the blasters twice
BLASTERS=${BLASTERS:-$DATA/sfx-blasters-v1}
BTOK=$DATA/tokens/blasters_v2
BLAST_STEPS=(${BLAST_STEPS:-600 1500})
[[ -f "$BLASTERS/train.jsonl" ]] || \
  $TC corpus sfx --out "$BLASTERS" --seed 4 --packages '' --synth-kinds blaster --synth-hours 1.5
for split in train valid; do
  [[ -f "$BTOK/$split/index.json" ]] || \
    $TC data cache "$BLASTERS/$split.jsonl" --codec "$CODEC2_RUN/export" --tail-silence 0.5 -o "$BTOK/$split" -q
done
[[ -f "$TOKENS2/with_blasters2/index.json" ]] || \
  $TC data merge "$TOKENS2/with_blasters2" "$TOKENS2/train" "$BTOK/train" "$BTOK/train"
finetune "$DATA/runs/sfx_lm_zap2/export" "$DATA/runs/sfx_lm_blast_only" "${BLAST_STEPS[0]}" 3e-4 \
  optim.warmup_steps=20 data.cache="$BTOK/train" data.valid_cache="$BTOK/valid"
finetune "$DATA/runs/sfx_lm_blast_only/export" "$DATA/runs/sfx_lm_blast2" "${BLAST_STEPS[1]}" 3e-4 \
  data.caption_variant_p=0.7 data.cache="$TOKENS2/with_blasters2"

# 9. package + measure
$PY scripts/package_default.py --name tonecraft-sfx-default --lm "$DATA/runs/sfx_lm_blast2/export" \
  --codec "$CODEC2_RUN/export" -o "$OUT" --cfg-coef "$CFG_COEF" --temperature "$TEMPERATURE" --top-k "$TOP_K" \
  --max-duration 5
echo "sound-effects model written to $OUT; measure it with bench/eval_sfx.py and update $OUT/MODEL_CARD.md"
