"""Measured quality of a codec + text-to-music model (issue 6, "Measured quality") and of a codec +
text-to-sound-effects model (issue 15, "Measured").

- `codec_metrics`: SI-SNR and (multi-scale) mel distance of a codec round trip, next to Opus through ffmpeg.
- `labels`: instrument family and tempo bucket of a corpus clip, from its sidecar JSON.
- `features`: LM-independent probe features (log-mel statistics, onset strength, tempogram).
- `classifier`: a linear probe (multinomial logistic regression in torch) and its accuracy vs chance.
- `tempo`: librosa beat-tracking tempo against the prompt's bpm; prompts rewritten with only a tempo word.
- `paraphrases`: prompt adherence on hand-written free-language prompts (`bench/paraphrases.jsonl`).
- `watermark_effect`: the same generated clips scored again after the watermark.
- `similar`: the copy check against a token cache (`tonecraft similar`, `bench/memorisation.py`).
- `runner`: the whole music evaluation (`bench/eval_default.py` is its command line).
- `lm_ce`: teacher-forced LM cross-entropy on held-out clips, captions vs the empty prompt (the trainer's).
- `envelope`: energy-envelope statistics of a sound (active time, span, onsets, decay).
- `sfx_probe`: the sound-effect category probe (log-mel over active frames + envelope features).
- `sfx`: the whole sound-effects evaluation (`bench/eval_sfx.py` is its command line).
"""
