# Shared by scripts/train_default.sh and scripts/train_sfx.sh (sourced; expects $TC, $NPROC).

run_capped() {  # run_capped MINUTES cmd...: run, stopping it (gracefully) after MINUTES if set
  local minutes=$1; shift
  if [[ -n "$minutes" ]]; then timeout -s TERM "${minutes}m" "$@" || [[ $? == 124 ]]; else "$@"; fi
}
resume_flag() { [[ -f "$1/checkpoint.pt" ]] && echo "--resume $1" || true; }

# build_token_caches CORPUS TOKENS CACHE_ARGS...: valid and test caches, then the train split in NPROC shards
# encoded side by side and merged; caches already there are kept
build_token_caches() {
  local corpus=$1 tokens=$2; shift 2
  local split k shards=()
  for split in valid test; do
    [[ -f "$tokens/$split/index.json" ]] || $TC data cache "$corpus/$split.jsonl" "$@" -o "$tokens/$split" -q
  done
  [[ -f "$tokens/train/index.json" ]] && return 0
  for ((k = 0; k < NPROC; k++)); do
    shards+=("$tokens/shards/train_$k")
    $TC data cache "$corpus/train.jsonl" --shard "$k/$NPROC" "$@" -o "${shards[k]}" -q &
  done
  wait
  $TC data merge "$tokens/train" "${shards[@]}"
}
