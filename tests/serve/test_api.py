"""Every route of `tonecraft serve`'s API and every error it promises (TestClient, tiny random model)."""
import io
import time

import numpy as np
import pytest
import soundfile as sf

from helpers_serve import wait_for

FAST = {"prompt": "calm piano", "duration": 0.5, "seed": 7}


def wav_bytes(seconds=0.3, rate=16000):
    buf = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV")
    return buf.getvalue()


def assert_error(response, status, words):
    assert response.status_code == status, response.text
    body = response.json()
    assert words.lower() in body["error"].lower(), body
    assert "Traceback" not in response.text


def test_health_models_and_page(make_client):
    c = make_client()
    assert c.get("/health").json()["status"] == "ok"
    [m] = c.get("/v1/models").json()["models"]
    assert m["name"] == "tiny" and m["kind"] == "music" and m["sample_rate"] == 1600
    assert m["capabilities"] == {"melody": False, "continuation": True, "stereo": False}
    assert m["defaults"] == {"top_k": 250, "temperature": 1.0, "cfg": 3.0}  # what a job that omits them uses
    page = c.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert c.get("/openapi.json").json()["paths"]["/v1/jobs"]
    assert c.get("/docs").status_code == 200


def test_sound_effects_model_is_listed_as_sfx_and_generates(make_client, tiny_model, sfx_model):
    c = make_client(models={"tiny": tiny_model, "tiny-sfx": sfx_model})
    assert c.get("/health").json()["models"] == ["tiny", "tiny-sfx"]
    music, sfx = c.get("/v1/models").json()["models"]
    assert (music["kind"], sfx["kind"]) == ("music", "sfx")
    assert sfx["name"] == "tiny-sfx" and sfx["sample_rate"] == 16000 and sfx["window_s"] == 10.0
    assert sfx["capabilities"] == {"melody": False, "continuation": True, "stereo": False}
    job = wait_for(c, c.post("/v1/jobs", json={"prompt": "dog barking", "model": "tiny-sfx", "duration": 1.0,
                                               "seed": 2}).json()["id"])
    assert job["status"] == "done" and job["model"] == "tiny-sfx" and job["sample_rate"] == 16000
    info = sf.info(io.BytesIO(c.get(job["audio"][0], params={"format": "wav"}).content))
    assert (info.samplerate, info.duration) == (16000, pytest.approx(1.0))
    # segments work with the sfx model too (its continuation context is window - stride = 8 s)
    long = c.post("/v1/jobs", json={"model": "tiny-sfx", "seed": 2, "segments": [
        {"prompt": "rain", "duration": 1.0}, {"prompt": "thunder", "duration": 1.0}]})
    assert wait_for(c, long.json()["id"])["seconds"] == pytest.approx(2.0)


def test_watermark_on_by_default_and_off_on_request(make_client, sfx_model, tmp_path):
    from tonecraft.audio import load_audio
    from tonecraft.provenance import detect
    from tonecraft.provenance.labels import read_labels

    c = make_client(data_dir=tmp_path / "d", models={"tiny-sfx": sfx_model})
    for watermark in (None, False):
        body = {"prompt": "rain", "duration": 2.0, "seed": 3} | ({} if watermark is None else {"watermark": False})
        job = wait_for(c, c.post("/v1/jobs", json=body).json()["id"])
        assert job["status"] == "done" and job["params"]["watermark"] is (watermark is None)
        flac = tmp_path / "got.flac"  # a converted download keeps the labels
        flac.write_bytes(c.get(job["audio"][0], params={"format": "flac"}).content)
        labels = read_labels(flac)
        assert labels["watermark"] == ("on" if watermark is None else "off")
        assert (labels["model"], labels["prompt"], labels["seed"]) == ("tiny-sfx", "rain", 3)
        assert detect(*load_audio(flac), windows=False).watermarked is (watermark is None)
    assert_error(c.post("/v1/jobs", json={"watermark": "maybe"}), 422, "watermark")


def test_job_lifecycle_audio_formats_and_delete(make_client, tmp_path):
    c = make_client(data_dir=tmp_path / "d")
    r = c.post("/v1/jobs", json=FAST | {"n": 2, "format": "flac"})
    assert r.status_code == 202 and r.json()["seed"] == 7
    job = wait_for(c, r.json()["id"])
    assert job["status"] == "done", job
    assert job["progress"] == 1.0 and job["seed"] == 7 and job["params"]["prompt"] == "calm piano"
    assert job["timings"]["first_audio_s"] <= job["timings"]["total_s"]
    assert len(job["audio"]) == 2
    default = c.get(job["audio"][1])
    assert default.headers["content-type"] == "audio/flac" and default.content[:4] == b"fLaC"
    magic = {"wav": b"RIFF", "flac": b"fLaC", "ogg": b"OggS"}
    for fmt in ("wav", "flac", "ogg", "mp3"):
        a = c.get(f"/v1/jobs/{job['id']}/audio/0", params={"format": fmt})
        assert a.status_code == 200 and len(a.content) > 100
        assert a.content[:4] == magic[fmt] if fmt in magic else a.headers["content-type"] == "audio/mpeg"
    assert sf.info(io.BytesIO(c.get(job["audio"][0], params={"format": "wav"}).content)).duration == pytest.approx(0.5)
    assert list((tmp_path / "d" / "audio").glob(f"{job['id']}_*"))
    assert c.delete(f"/v1/jobs/{job['id']}").json()["deleted"] is True
    assert not list((tmp_path / "d" / "audio").glob(f"{job['id']}_*"))
    assert_error(c.get(f"/v1/jobs/{job['id']}"), 404, "no job")


def test_same_seed_same_audio_and_random_seed_reported(make_client):
    c = make_client()
    ids = [c.post("/v1/jobs", json=FAST).json()["id"] for _ in range(2)]
    free = c.post("/v1/jobs", json=FAST | {"seed": None}).json()
    jobs = [wait_for(c, i) for i in ids + [free["id"]]]
    assert [j["status"] for j in jobs] == ["done"] * 3
    same = [sf.read(io.BytesIO(c.get(j["audio"][0]).content))[0] for j in jobs[:2]]  # labels carry a date
    assert np.array_equal(*same)
    assert jobs[2]["seed"] == free["seed"] and isinstance(free["seed"], int)


def test_history_newest_first_with_paging(make_client):
    c = make_client()
    ids = [c.post("/v1/jobs", json=FAST | {"prompt": f"p{i}"}).json()["id"] for i in range(3)]
    for i in ids:
        wait_for(c, i)
    page = c.get("/v1/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in page["jobs"]] == ids[::-1][:2]
    rest = c.get("/v1/jobs", params={"limit": 2, "before": page["next_before"]}).json()
    assert [j["id"] for j in rest["jobs"]] == ids[:1] and rest["next_before"] is None


def behind_a_blocker(c, body):
    """Submit a long job, then `body` (queued behind it): returns (blocker id, job id)."""
    blocker = c.post("/v1/jobs", json={"prompt": "blocker", "duration": 30.0}).json()["id"]
    return blocker, c.post("/v1/jobs", json=body).json()["id"]


def test_events_stream_progress_then_done(make_client):
    c = make_client()
    blocker, job_id = behind_a_blocker(c, FAST | {"duration": 1.0})
    events = []
    with c.stream("GET", f"/v1/jobs/{job_id}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event:"):
                events.append(line.split(":", 1)[1].strip())
                if len(events) == 1:  # the queued job's first event arrived: let it run
                    c.delete(f"/v1/jobs/{blocker}")
    assert events[0] == "progress" and events[-1] == "done"


def live_stream(c, body, variant):
    """Open /stream?variant= while the job waits behind a blocker, then let it run; returns (job id, bytes)."""
    blocker, job_id = behind_a_blocker(c, body)
    with c.stream("GET", f"/v1/jobs/{job_id}/stream", params={"variant": variant}) as live:
        assert live.status_code == 200
        c.delete(f"/v1/jobs/{blocker}")
        return job_id, live.read()


def test_stream_is_a_growing_wav_per_variant_then_the_file(make_client):
    c = make_client()
    body = FAST | {"duration": 1.0, "n": 2}
    job_id, first = live_stream(c, body, 0)
    _, second = live_stream(c, body, 1)  # the same job again (same seed), listening to the other variant
    for content in (first, second):
        assert content[:4] == b"RIFF" and content[4:8] == b"\xff\xff\xff\xff"
        assert len(content) - 44 == 2 * 1600  # 1 s of 16-bit mono at 1600 Hz
    assert first[44:] != second[44:]
    assert wait_for(c, job_id)["status"] == "done"
    for k in (0, 1):
        done = c.get(f"/v1/jobs/{job_id}/stream", params={"variant": k})
        assert done.status_code == 200 and sf.info(io.BytesIO(done.content)).duration == pytest.approx(1.0)
        assert done.content == c.get(f"/v1/jobs/{job_id}/audio/{k}", params={"format": "wav"}).content
    assert_error(c.get(f"/v1/jobs/{job_id}/stream", params={"variant": 2}), 404, "variants 0..1")
    assert c.get(f"/v1/jobs/{job_id}/stream", params={"variant": -1}).status_code == 422


def test_uploads_and_continuation(make_client, monkeypatch):
    from tonecraft.serve import uploads

    c = make_client()
    up = c.post("/v1/uploads", files={"file": ("intro.wav", wav_bytes(0.3), "audio/wav")})
    assert up.status_code == 201, up.text
    assert up.json()["seconds"] == pytest.approx(0.3) and up.json()["id"].startswith("u")
    job = wait_for(c, c.post("/v1/jobs", json=FAST | {"duration": 0.8, "continuation": up.json()["id"]}).json()["id"])
    assert job["status"] == "done" and job["seconds"] == pytest.approx(0.8)
    assert_error(c.post("/v1/jobs", json=FAST | {"duration": 0.2, "continuation": up.json()["id"]}), 400, "longer")
    assert_error(c.post("/v1/jobs", json=FAST | {"continuation": "u0000"}), 400, "no upload")
    assert_error(c.post("/v1/jobs", json=FAST | {"melody": up.json()["id"]}), 400, "not a melody model")
    assert_error(c.post("/v1/uploads", files={"file": ("x.mp3", b"\x00garbage" * 50, "audio/mpeg")}), 400,
                 "not readable audio")
    assert_error(c.post("/v1/uploads", files={"file": ("x.wav", b"", "audio/wav")}), 400, "empty")
    assert_error(c.post("/v1/uploads"), 422, "file")
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1000)
    assert_error(c.post("/v1/uploads", files={"file": ("big.wav", wav_bytes(1.0), "audio/wav")}), 400, "limit")
    assert_error(c.post("/v1/uploads", files={"file": ("big.wav", wav_bytes(5.0), "audio/wav")}), 400, "limit")
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 10**7)
    monkeypatch.setattr(uploads, "MAX_UPLOAD_SECONDS", 0.1)
    assert_error(c.post("/v1/uploads", files={"file": ("long.wav", wav_bytes(0.3), "audio/wav")}), 400, "limit")


@pytest.mark.parametrize("body, status, words", [
    ({"duration": -1}, 422, "duration"),
    ({"duration": 0}, 422, "duration"),
    ({"duration": 1e9}, 400, "limit"),
    ({"duration": 0.001}, 400, "one frame"),
    ({"duration": "long"}, 422, "duration"),
    ({"model": "nope"}, 400, "unknown model"),
    ({"format": "exe"}, 422, "format"),
    ({"n": 0}, 422, "n"),
    ({"n": 1000}, 422, "n"),
    ({"top_p": 2}, 422, "top_p"),
    ({"temperature": -1}, 422, "temperature"),
    ({"seed": -5}, 422, "seed"),
    ({"seed": 2**70}, 422, "seed"),
    ({"cfg": 1e6}, 422, "cfg"),
    ({"surprise": 1}, 422, "surprise"),
    ({"prompt": "x" * 5000}, 422, "prompt"),
])
def test_bad_parameters_are_messages(make_client, body, status, words):
    assert_error(make_client().post("/v1/jobs", json=FAST | body), status, words)


def test_malformed_bodies_and_unknown_ids(make_client):
    c = make_client()
    for raw in (b'{"duration": NaN}', b'{"duration": Infinity}', b"{not json", b"[]"):
        r = c.post("/v1/jobs", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422 and "error" in r.json() and "Traceback" not in r.text
    for method, path in [("get", "/v1/jobs/jnope"), ("delete", "/v1/jobs/jnope"), ("get", "/v1/jobs/jnope/events"),
                         ("get", "/v1/jobs/jnope/audio/0"), ("get", "/v1/jobs/jnope/stream"),
                         ("get", "/v1/jobs/../../etc/passwd/audio/0")]:
        assert getattr(c, method)(path).status_code == 404, path
    job = wait_for(c, c.post("/v1/jobs", json=FAST).json()["id"])
    assert_error(c.get(f"/v1/jobs/{job['id']}/audio/5"), 404, "variants")
    assert c.get(f"/v1/jobs/{job['id']}/audio/0", params={"format": "exe"}).status_code == 422
    assert c.get("/v1/jobs", params={"limit": 0}).status_code == 422
    assert c.get("/v1/jobs", params={"before": "nan"}).status_code == 422


def test_token_required_everywhere(make_client):
    c = make_client(token="secret-token-1")
    for path in ("/health", "/v1/models", "/v1/jobs", "/", "/static/index.html"):
        r = c.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
    assert c.get("/health", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    auth = {"Authorization": "Bearer secret-token-1"}
    assert c.get("/health", headers=auth).status_code == 200
    assert c.post("/v1/jobs", json=FAST).status_code == 401
    job_id = c.post("/v1/jobs", json=FAST, headers=auth).json()["id"]
    assert wait_for(c, job_id, headers=auth)["status"] == "done"
    assert c.get("/", params={"token": "secret-token-1"}).status_code == 200  # the page sets a cookie
    assert c.get("/v1/models").status_code == 200
    time.sleep(0)
