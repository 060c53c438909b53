"""`generate_stream(cancelled=...)`: the hook `tonecraft serve` uses to stop a running job within one step."""
import threading
import time

import pytest

from helpers_generation import tiny_generator
from tonecraft.models.frames import GenerationCancelled


@pytest.fixture(scope="module")
def model():
    return tiny_generator(max_duration=1.0)


def test_cancel_hook_stops_the_stream_and_its_thread(model):
    model.set_generation_params(duration=3.0, top_k=10, extend_stride=0.5)  # long-form: several windows
    polls, flag = [], threading.Event()

    def cancelled():
        polls.append(time.perf_counter())
        return flag.is_set()

    chunks = []
    with pytest.raises(GenerationCancelled):
        for chunk in model.generate_stream("rock", chunk_seconds=0.1, seed=1, cancelled=cancelled):
            chunks.append(chunk)
            flag.set()  # after the first chunk
    assert len(chunks) == 1
    n = len(polls)
    time.sleep(0.2)
    assert len(polls) == n  # the sampling thread has stopped polling: it is gone
    assert not [t for t in threading.enumerate() if t.name.startswith("tonecraft-") and "sampling" in t.name]


def test_no_hook_or_false_hook_changes_nothing(model):
    model.set_generation_params(duration=0.6, top_k=10)
    plain = list(model.generate_stream("rock", chunk_seconds=0.2, seed=4))
    hooked = list(model.generate_stream("rock", chunk_seconds=0.2, seed=4, cancelled=lambda: False))
    assert len(plain) == len(hooked) and all((a == b).all() for a, b in zip(plain, hooked))
