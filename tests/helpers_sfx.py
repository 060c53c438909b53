"""A fake unpacked package in a cache folder (no apt needed): recordings written with soundfile."""
import hashlib
import json
from pathlib import Path

import numpy as np
import soundfile as sf


def tone(seconds: float, sr: int, hz: float = 440.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).standard_normal(len(t)) * 0.05
    return (0.4 * np.sin(2 * np.pi * hz * t) * np.exp(-t / max(seconds, 0.1)) + noise).astype(np.float32)


def fake_package(cache: Path, pkg: str = "fake-sfx-data") -> dict:
    """Six recordings: two takes of rain, a dog bark (stereo 44.1 kHz), a 25 s wind (split), a meaningless name,
    a silent door."""
    files = {
        "usr/share/games/fake/sounds/rain_01.wav": (tone(1.5, 22050, 300, 1), 22050),
        "usr/share/games/fake/sounds/rain_02.wav": (tone(1.2, 22050, 310, 2), 22050),
        "usr/share/games/fake/sounds/dog_bark.wav": (np.stack([tone(0.8, 44100, 600, 3)] * 2, axis=1), 44100),
        "usr/share/games/fake/sounds/ambient/wind_long.wav": (tone(25.0, 16000, 200, 4), 16000),
        "usr/share/games/fake/sounds/pcv643.wav": (tone(1.0, 16000, 500, 5), 16000),
        "usr/share/games/fake/sounds/door_close.wav": (np.zeros(16000, np.float32), 16000),
    }
    root = cache / "packages" / pkg
    entries = []
    for path, (x, sr) in sorted(files.items()):
        stored = f"{hashlib.sha1(path.encode()).hexdigest()}.wav"
        (root / "files").mkdir(parents=True, exist_ok=True)
        sf.write(root / "files" / stored, x, sr, subtype="PCM_16")
        data = (root / "files" / stored).read_bytes()
        entries.append({"path": path, "file": stored, "bytes": len(data), "sha1": hashlib.sha1(data).hexdigest(),
                        "licence": "CC0-1.0", "attribution": "Test Author"})
    idx = {"index_version": 1, "package": pkg, "deb": "none", "files": entries, "copyright_format": "dep5"}
    (root / "index.json").write_text(json.dumps(idx))
    return idx
