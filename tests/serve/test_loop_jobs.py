"""Loop jobs (`"loop": true`, bars, bpm, meter): one seamless loop per variant, streamed, written with its loop
points (WAV smpl, Ogg/FLAC LOOPSTART tags), and the errors of a loop request."""
import io

import pytest
import soundfile as sf

from helpers_serve import wait_for
from tonecraft import riff, vorbis_comments
from tonecraft.serve.store import TERMINAL

LOOP = {"prompt": "drum groove", "loop": True, "bars": 1, "bpm": 120, "seed": 3}


def test_loop_job_is_exactly_its_bars_with_loop_points(make_client, tmp_path):
    from tonecraft.provenance.labels import read_labels

    data = tmp_path / "d"
    c = make_client(data_dir=data)
    r = c.post("/v1/jobs", json=LOOP | {"meter": "3/4"})
    assert r.status_code == 202, r.text
    job = wait_for(c, r.json()["id"], timeout=120)
    assert job["status"] == "done", job
    p = job["params"]  # one 3/4 bar at 120 bpm is 1.5 s: 2400 samples at 1600 Hz
    assert (p["duration"], p["tempo_bpm"], p["meter"]) == (1.5, 120.0, "3/4") and job["seconds"] * 1600 == 2400
    wav = data / "audio" / f"{job['id']}_0.wav"
    [points] = riff.read_loop_points(wav)
    assert sf.info(wav).frames == 2400 and (points.start, points.end) == (0, 2400)
    assert read_labels(wav)["params"]["bars"] == 1
    for fmt in ("ogg", "flac"):
        path = tmp_path / f"loop.{fmt}"
        path.write_bytes(c.get(job["audio"][0], params={"format": fmt}).content)
        tags = dict(vorbis_comments.read_comments(path))
        frames = sf.info(path).frames
        assert (tags["LOOPSTART"], tags["LOOPLENGTH"]) == ("0", str(frames)), tags
    # the tempo may come from the prompt
    slow = c.post("/v1/jobs", json={"prompt": "piano, 150 bpm", "loop": True, "bars": 1, "seed": 1})
    assert slow.status_code == 202 and c.get(f"/v1/jobs/{slow.json()['id']}").json()["params"]["duration"] == 1.6
    wait_for(c, slow.json()["id"], ("running",) + TERMINAL)
    c.delete(f"/v1/jobs/{slow.json()['id']}")  # cancelled while its preroll is sampled: nothing is saved
    assert wait_for(c, slow.json()["id"], timeout=60)["status"] == "cancelled"
    assert not list((data / "audio").glob(f"{slow.json()['id']}_*"))


@pytest.mark.parametrize("body, words", [
    ({"loop": True, "bars": 2, "prompt": "drums"}, "tempo up front"),
    ({"bars": 2, "bpm": 90}, "loop settings"),
    ({"loop": True, "bpm": 90}, "bars"),
    (LOOP | {"duration": 3}, "drop duration"),
    (LOOP | {"bars": 200, "bpm": 60}, "above this server's"),
    (LOOP | {"bpm": 1000}, "bpm must be"),
    (LOOP | {"meter": "5/5"}, "meter must look like"),
    (LOOP | {"segments": [{"prompt": "a", "duration": 1}]}, "cannot be combined"),
])
def test_bad_loop_requests_are_messages(make_client, body, words):
    r = make_client().post("/v1/jobs", json=body)
    assert r.status_code == 400 and words in r.json()["error"], r.text


def test_loops_need_a_music_model(make_client, sfx_model):
    r = make_client(models={"tiny-sfx": sfx_model}).post("/v1/jobs", json=LOOP)
    assert r.status_code == 400 and "sound-effects model" in r.json()["error"]
    assert make_client().post("/v1/jobs", json=LOOP | {"bars": 0}).status_code == 422


def test_loop_variants_stream_live_one_after_the_other(make_client):
    c = make_client()
    blocker = c.post("/v1/jobs", json={"prompt": "blocker", "duration": 30.0}).json()["id"]
    job_id = c.post("/v1/jobs", json=LOOP | {"n": 2}).json()["id"]
    with c.stream("GET", f"/v1/jobs/{job_id}/stream", params={"variant": 1}) as live:
        c.delete(f"/v1/jobs/{blocker}")
        content = live.read()
    assert len(content) - 44 == 2 * 3200  # variant 1's whole loop: 2 s of 16-bit mono at 1600 Hz
    job = wait_for(c, job_id, timeout=120)
    assert job["status"] == "done" and len(job["audio"]) == 2
    a, b = (sf.read(io.BytesIO(c.get(u).content))[0] for u in job["audio"])
    assert len(a) == len(b) == 3200 and (a != b).any()
