"""MIDI bytes -> flat note and control arrays, so every variant edits arrays instead of re-parsing.

music21 writes every part on MIDI channel 0, so for its files a *voice* is a track (one per part);
MMA files keep their own channels and programs (`keep_channels=True`), and a voice is a channel.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .deps import load_mido

# notes columns: start tick, end tick, voice, pitch, velocity
N_START, N_END, N_VOICE, N_PITCH, N_VEL = range(5)
# controls columns: tick, voice, kind, a, b
C_PROGRAM, C_CC, C_BEND = 0, 1, 2
DRUM_CHANNEL = 9
MELODIC_CHANNELS = [c for c in range(16) if c != DRUM_CHANNEL]


@dataclass
class MidiPiece:
    tpq: int
    notes: np.ndarray  # int64 [N, 5], sorted by start
    controls: np.ndarray  # int64 [M, 5], sorted by tick
    voices: list[int]  # voice ids present in `notes`, in order
    keep_channels: bool  # voices are MIDI channels (MMA) rather than tracks (music21)

    @property
    def end_tick(self) -> int:
        return int(self.notes[:, N_END].max()) if len(self.notes) else 0

    def voice_range(self, voice: int) -> tuple[int, int]:
        p = self.notes[self.notes[:, N_VOICE] == voice, N_PITCH]
        return (int(p.min()), int(p.max())) if len(p) else (60, 60)


def parse_midi(data: bytes, keep_channels: bool = False) -> MidiPiece:
    """Notes and (for keep_channels) program / controller / pitch-bend events of a MIDI file.

    Tempo events are ignored on purpose: the variant imposes one tempo on the whole piece."""
    mido = load_mido()
    mf = mido.MidiFile(file=io.BytesIO(data))
    notes: list[tuple[int, int, int, int, int]] = []
    controls: list[tuple[int, int, int, int, int]] = []
    track_voice: dict[int, int] = {}
    for ti, track in enumerate(mf.tracks):
        tick = 0
        open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for msg in track:
            tick += msg.time
            if msg.is_meta or not hasattr(msg, "channel"):
                continue
            if keep_channels:
                voice = msg.channel
            else:
                voice = track_voice.setdefault(ti, len(track_voice)) if msg.type == "note_on" else track_voice.get(ti, -1)
            if msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                stack = open_notes.get((msg.channel, msg.note))
                if stack:
                    start, vel = stack.pop(0)
                    if tick > start:
                        notes.append((start, tick, voice, msg.note, vel))
            elif keep_channels and msg.type == "program_change":
                controls.append((tick, voice, C_PROGRAM, msg.program, 0))
            elif keep_channels and msg.type == "control_change":
                controls.append((tick, voice, C_CC, msg.control, msg.value))
            elif keep_channels and msg.type == "pitchwheel":
                controls.append((tick, voice, C_BEND, msg.pitch + 8192, 0))
        for (ch, pitch), stack in open_notes.items():  # unterminated notes end with the track
            for start, vel in stack:
                if tick > start:
                    v = ch if keep_channels else track_voice.get(ti, -1)
                    notes.append((start, tick, v, pitch, vel))
    n = np.array(sorted(notes), dtype=np.int64).reshape(-1, 5)
    c = np.array(sorted(controls), dtype=np.int64).reshape(-1, 5)
    voices = sorted(set(int(v) for v in n[:, N_VOICE])) if len(n) else []
    return MidiPiece(mf.ticks_per_beat, n, c, voices, keep_channels)


def median_ioi(piece: MidiPiece) -> float:
    """Median time between distinct onsets, in quarter notes: the piece's 'running' note value."""
    onsets = np.unique(piece.notes[:, N_START])
    if len(onsets) < 2:
        return 1.0
    return float(np.median(np.diff(onsets))) / piece.tpq
