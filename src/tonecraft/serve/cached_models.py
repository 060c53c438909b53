"""Official models found in the local Hugging Face cache, offered by `tonecraft serve` but loaded on first use.

An official model is gigabytes and seconds to minutes of loading: listing every cached one must cost nothing
at start-up. `OnDemandModel` carries what the API and the request checks read (kind, rates, window,
capabilities: from the registry and the snapshot's config.json); the jobs' shared worker calls `load()` when a
job needs it and keeps one such model in memory at a time (jobs.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import CheckpointError, TonecraftError
from ..models.params import family_defaults
from ..pretrained.cache_scan import CachedModel

MAX_REASON = 400  # characters of a loader's message kept in a job's error


@dataclass
class OnDemandModel:
    """Stand-in for a model that is not loaded yet, with the attributes of a loaded one that the API and the
    request checks read; `load()` returns the real MusicGen / AudioGen."""

    cached: CachedModel
    device: str = "cpu"
    error: str | None = None  # why loading failed (kept: later jobs fail at once with the same message)

    def __post_init__(self):
        c, info = self.cached, self.cached.info
        self.name, self.family, self.is_melody = info.name, info.family, info.melody
        self.max_duration = info.max_duration
        self.sample_rate, self.audio_channels, self.frame_rate = c.sample_rate, c.channels, c.frame_rate
        self.default_extend_stride = family_defaults(self.family).params.extend_stride

    def load(self):
        """The model, loaded from its snapshot folder only (no network); a failure is a clear CheckpointError."""
        from ..models import from_loaded
        from ..models.genmodel import tune_cpu_threads
        from ..pretrained.musicgen_loading import load_official_dir

        if self.error is not None:
            raise CheckpointError(self.error)
        c = self.cached
        try:
            model = from_loaded(load_official_dir(c.info, c.directory, text_encoder=c.text_encoder), self.device)
        except Exception as exc:  # noqa: BLE001 - torch, safetensors and transformers raise many kinds
            reason = str(exc) if isinstance(exc, TonecraftError) else f"{type(exc).__name__}: {exc}"
            self.error = (f"could not load {self.name} from the Hugging Face cache ({c.directory}): "
                          f"{reason[:MAX_REASON]}")
            raise CheckpointError(self.error) from None
        tune_cpu_threads(model)
        return model


def offer_cached_models(taken: set[str], device: str = "cpu", cache_dir=None) -> dict[str, OnDemandModel]:
    """name -> OnDemandModel for every complete official snapshot in the cache whose name is not `taken`."""
    from ..pretrained.cache_scan import cached_official_models

    return {c.info.name: OnDemandModel(c, device) for c in cached_official_models(cache_dir)
            if c.info.name not in taken}
