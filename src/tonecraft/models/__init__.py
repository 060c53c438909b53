"""User-facing generators. `from tonecraft.models import MusicGen, AudioGen` (imported lazily: the CLI stays fast).

`load_model(name_or_path)` returns whichever of the two a checkpoint is (MusicGen for text, melody and
stereo checkpoints, AudioGen for audiogen ones).
"""


def load_model(name_or_path, device=None, **overrides):
    """MusicGen or AudioGen, chosen by the checkpoint (official name, hub id or local directory)."""
    from ..pretrained.musicgen_loading import load_musicgen

    return from_loaded(load_musicgen(name_or_path, **overrides), device)


def from_loaded(loaded, device=None):
    """MusicGen or AudioGen around a `pretrained.musicgen_loading.LoadedModel`, chosen by its family."""
    if loaded.family == "audiogen":
        from .audiogen import AudioGen

        return AudioGen.from_loaded(loaded, device)
    from .musicgen import MusicGen

    return MusicGen.from_loaded(loaded, device)


def __getattr__(name):
    if name == "MusicGen":
        from .musicgen import MusicGen

        return MusicGen
    if name == "AudioGen":
        from .audiogen import AudioGen

        return AudioGen
    raise AttributeError(name)
