"""Find the system pieces the renderer needs and fail with the install command when one is missing."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ...errors import TonecraftError

APT_HINT = "apt-get install libfluidsynth3 fluid-soundfont-gm mma"

# Searched in order when --soundfont is not given (Debian / Fedora / Arch / Homebrew layouts).
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM2-2.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/opt/homebrew/share/soundfonts/FluidR3_GM.sf2",
)


class CorpusDependencyError(TonecraftError):
    """A system library, soundfont or program the corpus renderer needs is not installed."""


def load_fluidsynth():
    """Import pyfluidsynth; its import itself fails when libfluidsynth is absent."""
    try:
        import fluidsynth  # noqa: PLC0415
    except ImportError as exc:
        if "FluidSynth library" in str(exc) or "libfluidsynth" in str(exc):
            raise CorpusDependencyError(
                f"the FluidSynth library is not installed ({exc}); install it with "
                f"`apt-get install libfluidsynth3 fluid-soundfont-gm`") from None
        raise CorpusDependencyError(
            f"the Python binding for FluidSynth is missing ({exc}); install it with "
            f"`pip install pyfluidsynth` (and `apt-get install libfluidsynth3 fluid-soundfont-gm`)"
        ) from None
    except OSError as exc:  # library found but cannot be loaded
        raise CorpusDependencyError(
            f"the FluidSynth library cannot be loaded ({exc}); reinstall `libfluidsynth3`") from None
    if getattr(fluidsynth, "_fl", None) is None or not hasattr(fluidsynth._fl, "fluid_synth_write_float"):
        raise CorpusDependencyError("this pyfluidsynth build exposes no fluid_synth_write_float; "
                                    "install libfluidsynth3 >= 2.0 and `pip install pyfluidsynth`")
    return fluidsynth


def find_soundfont(path: str | os.PathLike | None = None) -> Path:
    """The soundfont to render with: `path` if given, else the General MIDI font FluidR3."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise CorpusDependencyError(f"soundfont {p} does not exist (leave out --soundfont to use FluidR3_GM "
                                        f"from `apt-get install fluid-soundfont-gm`)")
        return p
    for cand in SOUNDFONT_CANDIDATES:
        if os.path.isfile(cand):
            return Path(cand)
    raise CorpusDependencyError(
        "no General MIDI soundfont found (looked for FluidR3_GM.sf2 in /usr/share/sounds/sf2 and "
        "/usr/share/soundfonts); install it with `apt-get install fluid-soundfont-gm` or pass --soundfont")


def find_mma() -> str:
    """Path of the `mma` (Musical MIDI Accompaniment) program used for the band grooves."""
    exe = shutil.which("mma")
    if exe is None:
        raise CorpusDependencyError(
            "the `mma` accompaniment generator is not installed; install it with `apt-get install mma` "
            "or pass --mma-fraction 0 to render without band grooves")
    return exe


def load_music21():
    """Import music21 (the score corpus and its MIDI export)."""
    try:
        import music21  # noqa: PLC0415
    except ImportError as exc:
        raise CorpusDependencyError(
            f"music21 is not installed ({exc}); install it with `pip install music21`") from None
    return music21


def load_mido():
    try:
        import mido  # noqa: PLC0415
    except ImportError as exc:
        raise CorpusDependencyError(f"mido is not installed ({exc}); install it with `pip install mido`") from None
    return mido
