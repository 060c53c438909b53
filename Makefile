# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fallback bench venv clean train-default train-sfx

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# CPU build of torch from local disk; must come first so nothing resolves a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# Reference implementation for parity tests; its torchaudio dependency must never enter the venv.
	$(BIN)/pip install -q --no-deps encodec==0.1.1 einops
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	mkdir -p out
	HF_HUB_OFFLINE=1 $(BIN)/tonecraft demo --out out

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests

# The CPU fast-path tests once more as on a CPU without AVX-512 / native bf16 (whatever this CPU has).
test-fallback: $(STAMP)
	TONECRAFT_CPU=avx2 HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests/test_cpu_features.py \
	  tests/lm/test_fast_paths.py tests/lm/test_generate.py tests/cli/test_generate_dtype.py

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/codec.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/lm.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/first_audio.py

# Reproduce the embedded default model from scratch (corpus -> codec -> token cache -> LM -> package).
train-default: $(STAMP)
	HF_HUB_OFFLINE=1 bash scripts/train_default.sh

# Reproduce the embedded sound-effects model (SFX corpus -> 16 kHz codec -> token cache -> LM -> package).
train-sfx: $(STAMP)
	HF_HUB_OFFLINE=1 bash scripts/train_sfx.sh

clean:
	rm -rf $(VENV) out build *.egg-info
