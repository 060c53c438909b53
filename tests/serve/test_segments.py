"""Multi-prompt segments: the joiner (pure tensors), the piece (each segment continues the audio so far with its
own prompt), and the API's field and errors."""
import io

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers_serve import wait_for
from tonecraft.serve.segments import MAX_SEGMENTS, Joiner


def run_joiner(joiner, streams, contexts):
    """Feed segment streams (lists of chunks) through `joiner`, as generate_piece does."""
    out = []
    for i, chunks in enumerate(streams):
        if i:
            joiner.next_segment(contexts[i])
        out += [joiner.push(c) for c in chunks]
    out.append(joiner.finish())
    return torch.cat(out, dim=-1)


def test_joiner_one_segment_passes_audio_through_unchanged():
    x = torch.randn(2, 1, 1000)
    y = run_joiner(Joiner(fade=50, keep=400), [list(x.split(7, dim=-1))], [0])
    assert torch.equal(y, x)


def test_joiner_crossfades_into_the_redecoded_context_and_keeps_the_new_part():
    a = torch.randn(1, 1, 600)
    ctx = 320  # the next segment re-decodes the last 320 samples of `a` (slightly different), then adds 400 new
    redecoded = a[..., -ctx:] + 0.01 * torch.randn(1, 1, ctx)
    new = torch.randn(1, 1, 400)
    joiner = Joiner(fade=40, keep=ctx)
    head = torch.cat([joiner.push(c) for c in a.split(64, dim=-1)], dim=-1)
    assert torch.equal(joiner.context(hop=32), a[..., -ctx:])  # emitted + held, a whole number of frames
    joiner.next_segment(ctx)
    rest = torch.cat([joiner.push(c) for c in torch.cat([redecoded, new], -1).split(50, dim=-1)], dim=-1)
    y = torch.cat([head, rest, joiner.finish()], dim=-1)
    assert y.shape[-1] == 1000
    assert torch.equal(y[..., :560], a[..., :560]) and torch.equal(y[..., 600:], new)
    w = torch.linspace(0, 1, 42)[1:-1]
    assert torch.allclose(y[..., 560:600], a[..., 560:] * (1 - w) + redecoded[..., -40:] * w)


FAST = {"duration": 0.5, "seed": 7}
TWO = [{"prompt": "calm piano", "duration": 0.5}, {"prompt": "loud drums", "duration": 0.7}]


def piece(model, segments, n=2, seed=7, stride=18.0):
    from tonecraft.serve.segments import Segment, generate_piece

    configure = lambda d: model.set_generation_params(duration=d, extend_stride=stride)  # noqa: E731
    chunks = generate_piece(model, [Segment(p, d) for p, d in segments], n, configure, stride=stride,
                            generator=torch.Generator().manual_seed(seed), chunk_seconds=0.25)
    return torch.cat(list(chunks), dim=-1)


def test_piece_continues_each_segment_with_its_own_prompt(tiny_model):
    one = piece(tiny_model, [("calm piano", 0.5)])
    tiny_model.set_generation_params(duration=0.5, extend_stride=18.0)
    assert torch.equal(one, torch.cat(list(tiny_model.generate_stream(["calm piano"] * 2, 0.25, seed=7)), -1))
    two = piece(tiny_model, [("calm piano", 0.5), ("loud drums", 0.7)])
    assert two.shape == (2, 1, 1920)
    fade = 80  # CROSSFADE_SECONDS at 1600 Hz: the first segment is untouched up to its held-back tail
    assert torch.equal(two[..., :800 - fade], one[..., :800 - fade])
    same = piece(tiny_model, [("calm piano", 0.5), ("calm piano", 0.7)])
    assert torch.equal(same[..., :800 - fade], one[..., :800 - fade])
    assert (two[..., 900:] - same[..., 900:]).abs().max() > 1e-3  # the second prompt changes what follows


def test_segments_job_calls_continuation_with_the_audio_so_far(make_client, tiny_model, monkeypatch):
    calls = []
    original = type(tiny_model).generate_stream

    def spy(self, descriptions=None, chunk_seconds=1.0, **kw):
        prompt = kw.get("prompt")
        calls.append((list(descriptions), None if prompt is None else tuple(prompt.shape), self.params.duration))
        return original(self, descriptions, chunk_seconds, **kw)

    monkeypatch.setattr(type(tiny_model), "generate_stream", spy)
    c = make_client()
    r = c.post("/v1/jobs", json={"segments": TWO, "seed": 7, "n": 2})
    assert r.status_code == 202, r.text
    job = wait_for(c, r.json()["id"])
    assert job["status"] == "done", job
    assert job["seconds"] == pytest.approx(1.2) and job["params"]["duration"] == pytest.approx(1.2)
    assert job["params"]["segments"] == TWO and job["params"]["prompt"] == "calm piano"
    # segment 2 continued the 0.5 s so far (800 samples at 1600 Hz, both variants) with its own prompt
    assert calls == [(["calm piano"] * 2, None, 0.5), (["loud drums"] * 2, (2, 1, 800), 1.2)]
    data, sr = sf.read(io.BytesIO(c.get(job["audio"][1], params={"format": "wav"}).content))
    assert (len(data), sr) == (1920, 1600)


def test_segments_continue_an_upload_and_one_segment_is_a_plain_job(make_client):
    c = make_client()
    buf = io.BytesIO()
    t = np.arange(480) / 1600
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 1600, format="WAV")
    up = c.post("/v1/uploads", files={"file": ("intro.wav", buf.getvalue(), "audio/wav")}).json()
    job = wait_for(c, c.post("/v1/jobs", json={"segments": TWO, "continuation": up["id"], "seed": 1}).json()["id"])
    assert job["status"] == "done" and job["seconds"] == pytest.approx(0.3 + 1.2)  # durations are new audio
    one = wait_for(c, c.post("/v1/jobs", json={"segments": TWO[:1], "continuation": up["id"]}).json()["id"])
    assert one["status"] == "done" and one["seconds"] == pytest.approx(0.8) and one["params"]["segments"] is None


@pytest.mark.parametrize("body, status, words", [
    ({"segments": []}, 422, "segments"),
    ({"segments": [{"prompt": "x", "duration": 0.5}] * (MAX_SEGMENTS + 1)}, 422, "segments"),
    ({"segments": [{"prompt": "x", "duration": 70}, {"prompt": "y", "duration": 70}]}, 400, "total"),
    ({"segments": [{"prompt": "x", "duration": 0.5}, {"prompt": "y", "duration": 0.001}]}, 400, "segment 2"),
    ({"segments": [{"prompt": "x", "duration": -1}]}, 422, "duration"),
    ({"segments": [{"prompt": "x"}]}, 422, "duration"),
    ({"segments": [{"prompt": "x", "duration": 1, "seed": 3}]}, 422, "seed"),
    ({"segments": TWO, "prompt": "also"}, 400, "either prompt and duration, or segments"),
    ({"segments": TWO, "duration": 3}, 400, "either prompt and duration, or segments"),
    ({"segments": TWO, "melody": "u0"}, 400, "melody"),
    ({"segments": "calm, then loud"}, 422, "segments"),
])
def test_bad_segments_are_messages(make_client, body, status, words):
    r = make_client().post("/v1/jobs", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["error"] and "Traceback" not in r.text

