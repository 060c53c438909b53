"""FluidSynth rendering: a persistent synth per worker holds the soundfont; each clip plays on a fresh
voice engine that borrows it.

Measured with libfluidsynth 2.3.1: after `system_reset()` a reused synth still carries state from the
previous clip (reverb and chorus modulators, voice and gain ramps: up to 0.04 full scale in the first
0.5 s), so a resumed run would not reproduce the bytes of a fresh one. The soundfont (148 MB, the
expensive part) is therefore loaded once, and every clip gets a new `fluid_synth` (about 5 ms) to which
the loaded soundfont is attached with `fluid_synth_add_sfont` and detached before deletion.
The float path (`fluid_synth_write_float` through ctypes) is used instead of pyfluidsynth's
`get_samples()`, which returns int16 that clips and dithers.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .deps import load_fluidsynth

# event kinds, in the order they apply at one sample: note-offs before changes before note-ons
EV_OFF, EV_PROGRAM, EV_CC, EV_BEND, EV_ON = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Reverb:
    room: float
    damping: float
    width: float
    level: float
    send: int  # CC91 on every channel


REVERBS = {
    "dry": Reverb(0.2, 0.6, 0.5, 0.0, 0),
    "studio": Reverb(0.4, 0.5, 0.8, 0.5, 35),
    "room": Reverb(0.35, 0.7, 0.6, 0.7, 70),
    "hall": Reverb(0.85, 0.3, 1.0, 0.8, 85),
    "church": Reverb(0.97, 0.15, 1.0, 0.9, 110),
}


@dataclass
class ChannelSetup:
    """Program (bank, preset) and static controllers for each channel used by a clip."""

    programs: dict[int, tuple[int, int]] = field(default_factory=dict)  # channel -> (bank, preset)
    volume: dict[int, int] = field(default_factory=dict)  # CC7
    chorus: int = 0  # CC93
    reverb: str = "studio"


SYNTH_SETTINGS = {"synth.reverb.active": 1, "synth.chorus.active": 1, "synth.polyphony": 256,
                  "synth.cpu-cores": 1, "synth.midi-channels": 16}


class Renderer:
    """Loads the soundfont once; `render` plays one clip on a fresh synth sharing it."""

    def __init__(self, soundfont: str | Path, sample_rate: int = 32000, gain: float = 0.4):
        self.fl = load_fluidsynth()
        lib = self.fl._fl
        self.sample_rate = int(sample_rate)
        self.gain = float(gain)
        lib.fluid_set_log_function.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        lib.fluid_set_log_function(2, None, None)  # FLUID_WARN: "no preset" on an empty engine is expected
        self.base = self._new_synth()
        self.sfid = self.base.sfload(str(soundfont))
        if self.sfid < 0:
            from .deps import CorpusDependencyError

            raise CorpusDependencyError(f"FluidSynth cannot load soundfont {soundfont}")
        self.soundfont = Path(soundfont).name
        lib.fluid_synth_get_sfont_by_id.restype = ctypes.c_void_p
        lib.fluid_synth_get_sfont_by_id.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.fluid_synth_add_sfont.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.fluid_synth_add_sfont.restype = ctypes.c_int
        lib.fluid_synth_remove_sfont.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._sfont = lib.fluid_synth_get_sfont_by_id(self.base.synth, self.sfid)
        fn = lib.fluid_synth_write_float
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                       ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        fn.restype = ctypes.c_int
        self._write = fn

    def _new_synth(self):
        return self.fl.Synth(gain=self.gain, samplerate=float(self.sample_rate), channels=16, **SYNTH_SETTINGS)

    def close(self) -> None:
        if getattr(self, "base", None) is not None:
            self.base.delete()
            self.base = None

    def _setup(self, s, sfid: int, setup: ChannelSetup) -> None:
        rv = REVERBS[setup.reverb]
        s.set_reverb(rv.room, rv.damping, rv.width, rv.level)
        for ch in range(16):
            bank, preset = setup.programs.get(ch, (128 if ch == 9 else 0, 0))
            s.program_select(ch, sfid, bank, preset)
            s.cc(ch, 7, setup.volume.get(ch, 100))
            s.cc(ch, 91, rv.send)
            s.cc(ch, 93, setup.chorus)

    def render(self, events: list[tuple[int, int, int, int, int]], n_samples: int, setup: ChannelSetup) -> np.ndarray:
        """events: (sample, kind, channel, a, b) sorted; returns float32 mono of n_samples."""
        lib = self.fl._fl
        s = self._new_synth()
        sfid = lib.fluid_synth_add_sfont(s.synth, self._sfont)
        try:
            self._setup(s, sfid, setup)
            return self._play(s, sfid, events, n_samples)
        finally:
            lib.fluid_synth_remove_sfont(s.synth, self._sfont)
            s.delete()

    def _play(self, s, sfid: int, events, n_samples: int) -> np.ndarray:
        left = np.zeros(n_samples, dtype=np.float32)
        right = np.zeros(n_samples, dtype=np.float32)
        lp, rp, synth = left.ctypes.data, right.ctypes.data, s.synth
        pos = 0
        for t, kind, ch, a, b in events:
            t = min(max(t, pos), n_samples)
            if t > pos:
                self._write(synth, t - pos, lp, pos, 1, rp, pos, 1)
                pos = t
            if t >= n_samples:
                break
            if kind == EV_ON:
                s.noteon(ch, a, b)
            elif kind == EV_OFF:
                s.noteoff(ch, a)
            elif kind == EV_PROGRAM:
                s.program_select(ch, sfid, 128 if ch == 9 else 0, a)
            elif kind == EV_CC:
                s.cc(ch, a, b)
            elif kind == EV_BEND:
                s.pitch_bend(ch, a - 8192)
        if pos < n_samples:
            self._write(synth, n_samples - pos, lp, pos, 1, rp, pos, 1)
        return 0.5 * (left + right)


def normalize_loudness(x: np.ndarray, rms_db: float = -20.0, peak: float = 0.89) -> tuple[np.ndarray, float]:
    """Scale to `rms_db` dBFS RMS, lowered where needed so the peak stays below `peak`.
    Returns (audio, original RMS in dBFS)."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    if rms <= 0:
        return x, -200.0
    gain = min(10 ** (rms_db / 20) / rms, peak / max(float(np.max(np.abs(x))), 1e-12))
    return (x * gain).astype(np.float32), 20 * np.log10(rms)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)
