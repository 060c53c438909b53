"""A progress bar over generated frames that reads in seconds of audio, one bar for all long-form windows."""
from __future__ import annotations


class GenerationProgress:
    """tqdm bar over generated frames, showing seconds of audio produced."""

    def __init__(self, name: str, frame_rate: float, frames: int, duration: float):
        from tqdm.auto import tqdm

        self.rate = frame_rate
        self.base = 0  # frames finished in previous windows
        self.bar = tqdm(total=frames, unit="frame", desc=name, leave=False,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}] {postfix}")
        self.duration = duration

    def update(self, prompt_len: int, step: int, steps: int, length: int) -> None:
        # `steps` includes the pattern's trailing delay steps; map linearly onto new frames.
        frames = self.base + round((length - prompt_len) * step / max(steps, 1))
        self.bar.n = min(frames, self.bar.total)
        self.bar.set_postfix_str(f"{self.bar.n / self.rate:.1f}/{self.duration:.1f} s audio", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
