"""Measured quality of a codec + text-to-music model (issue 6, "Measured quality").

- `codec_metrics`: SI-SNR and (multi-scale) mel distance of a codec round trip, next to Opus through ffmpeg.
- `labels`: instrument family and tempo bucket of a corpus clip, from its sidecar JSON.
- `features`: LM-independent probe features (log-mel statistics, onset strength, tempogram).
- `classifier`: a linear probe (multinomial logistic regression in torch) and its accuracy vs chance.
- `tempo`: librosa beat-tracking tempo against the prompt's bpm.
- `runner`: the whole evaluation (`bench/eval_default.py` is its command line).
"""
