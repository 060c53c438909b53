"""Provenance of generated audio: an inaudible watermark with a 32-bit payload, and a detector anyone can run.

    from tonecraft.provenance import Payload, detect, embed
    marked = embed(wav, sr, Payload.for_generation("tonecraft-default", "lofi beat", seed=1))
    found = detect(marked, sr)          # Detection(watermarked=True, score=..., payload=..., windows=[...])

The method (keyed spread-spectrum patchwork on STFT magnitudes, no training, public key) is described in
`scheme.py` (embedding: `embedder.py`, detection: `detector.py`); its robustness is measured by bench/watermark.py (README, "Provenance").
"""
from .detector import Detection, Window, detect
from .embedder import StreamEmbedder, embed
from .payload import Payload
from .scheme import MIN_SECONDS, WatermarkError

__all__ = ["Detection", "Window", "detect", "StreamEmbedder", "embed", "Payload", "MIN_SECONDS", "WatermarkError"]
