"""Official models found in the local Hugging Face cache: listed at start-up without loading, loaded by their
first job (one at a time), a failed load is a clear job error; incomplete snapshots are not offered.

The "official" snapshots are the tiny random transformers MusicGen (tests/helpers_musicgen.py) placed in a
temporary hub cache under official repo names, as a download leaves them (blobs, symlinks, refs/main).
"""
import json
import time
import urllib.request
import weakref

import pytest

from helpers_serve import put_in_hub_cache, start_server, wait_for
from tonecraft.pretrained.cache_scan import cached_official_models
from tonecraft.serve.cached_models import OnDemandModel, offer_cached_models

JOB = {"prompt": "a tiny tune", "duration": 0.5, "seed": 3, "watermark": False}  # (the log of a skipped mark
# would keep its exception, hence the job's frames and model, in pytest's log capture)


@pytest.fixture
def hub(tmp_path):
    return tmp_path / "hub"


def touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"not weights")
    return folder


def test_scan_lists_complete_snapshots_only(hub, tiny_dir, tmp_path):
    put_in_hub_cache(hub, "facebook/musicgen-small", tiny_dir)
    put_in_hub_cache(hub, "facebook/musicgen-medium", tiny_dir, leave_out=("model.safetensors",))  # weights missing
    put_in_hub_cache(hub, "someone/musicgen-small", tiny_dir)  # not an official repo
    [found] = cached_official_models(hub)
    assert found.info.name == "musicgen-small" and found.layout == "transformers" and found.text_encoder is None
    assert (found.sample_rate, found.channels, found.frame_rate) == (1600, 1, 50.0)  # read from its config.json
    assert (found.directory / "model.safetensors").is_file() and found.revision in str(found.directory)
    assert cached_official_models(tmp_path / "no-such-cache") == []


def test_scan_sharded_and_audiocraft_snapshots(hub, tiny_dir, tmp_path):
    sharded = touch(tmp_path / "sharded", "config.json", "tokenizer.json", "model-00001-of-00002.safetensors")
    (sharded / "config.json").write_text((tiny_dir / "config.json").read_text())
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    put_in_hub_cache(hub, "facebook/musicgen-large", sharded)  # one shard missing
    audiocraft = touch(tmp_path / "ac", "state_dict.bin", "compression_state_dict.bin")
    put_in_hub_cache(hub, "facebook/audiogen-medium", audiocraft)
    assert cached_official_models(hub) == []  # audiogen's files need its T5 (t5-large) in the cache too
    put_in_hub_cache(hub, "google-t5/t5-large", touch(tmp_path / "t5", "config.json", "model.safetensors",
                                                      "spiece.model"))
    [found] = cached_official_models(hub)
    assert found.info.name == "audiogen-medium" and found.layout == "audiocraft"
    assert found.text_encoder.parent.parent.name == "models--google-t5--t5-large"
    assert (found.sample_rate, found.channels, found.frame_rate) == (16000, 1, 50.0)


def test_on_demand_models_load_on_first_job_one_at_a_time(hub, tiny_dir, tiny_model, tmp_path, make_client):
    for repo in ("facebook/musicgen-small", "facebook/musicgen-medium"):
        put_in_hub_cache(hub, repo, tiny_dir)
    broken = touch(tmp_path / "broken", "config.json", "tokenizer.json", "model.safetensors")
    (broken / "config.json").write_text((tiny_dir / "config.json").read_text())  # garbage weights
    put_in_hub_cache(hub, "facebook/musicgen-large", broken)
    offered = offer_cached_models({"tiny"}, cache_dir=hub)
    assert list(offered) == ["musicgen-small", "musicgen-medium", "musicgen-large"]
    c = make_client(models={"tiny": tiny_model, **offered})
    models = {m["name"]: m for m in c.get("/v1/models").json()["models"]}
    small = models["musicgen-small"]
    assert (small["kind"], small["sample_rate"], small["source"], small["loaded"]) == ("music", 1600, "cache", False)
    assert small["window_s"] == 30.0 and small["capabilities"] == {"melody": False, "continuation": True,
                                                                  "stereo": False}
    assert models["tiny"]["source"] == "loaded" and models["tiny"]["loaded"]
    manager = c.app.state.manager
    slot = manager.slots["musicgen-small"]
    assert slot is manager.slots["musicgen-medium"] and slot.model is None  # nothing loaded at start-up

    job = wait_for(c, c.post("/v1/jobs", json=JOB | {"model": "musicgen-small"}).json()["id"])
    assert job["status"] == "done" and job["sample_rate"] == 1600, job
    first = weakref.ref(slot.model)
    assert slot.loaded == "musicgen-small" and first().name == "musicgen-small"
    assert c.get("/v1/models").json()["models"][1]["loaded"]
    again = wait_for(c, c.post("/v1/jobs", json=JOB | {"model": "musicgen-small"}).json()["id"])
    assert again["status"] == "done" and first() is slot.model  # loaded once

    other = wait_for(c, c.post("/v1/jobs", json=JOB | {"model": "musicgen-medium"}).json()["id"])
    assert other["status"] == "done" and slot.loaded == "musicgen-medium"
    assert first() is None  # the first on-demand model left memory: one at a time

    failed = wait_for(c, c.post("/v1/jobs", json=JOB | {"model": "musicgen-large"}).json()["id"])
    assert failed["status"] == "failed"
    assert failed["error"].startswith("could not load musicgen-large from the Hugging Face cache"), failed
    assert "Traceback" not in failed["error"]
    t0 = time.time()
    again = wait_for(c, c.post("/v1/jobs", json=JOB | {"model": "musicgen-large"}).json()["id"])
    assert again["error"] == failed["error"] and time.time() - t0 < 10  # not loaded again
    large = c.get("/v1/models").json()["models"][3]
    assert large["loaded"] is False and large["error"] == failed["error"]
    ok = wait_for(c, c.post("/v1/jobs", json=JOB | {"model": "musicgen-small"}).json()["id"])
    assert ok["status"] == "done"  # the shared worker goes on after a failed load


def test_on_demand_checks_use_the_registry(hub, tiny_dir, make_client):
    put_in_hub_cache(hub, "facebook/musicgen-small", tiny_dir)
    offered = offer_cached_models(set(), cache_dir=hub)
    c = make_client(models=offered)
    r = c.post("/v1/jobs", json=JOB | {"model": "musicgen-small", "melody": "u0"})
    assert r.status_code == 400 and "not a melody model" in r.json()["error"]
    assert c.post("/v1/jobs", json=JOB | {"model": "musicgen-small", "duration": 0.001}).status_code == 400
    assert c.app.state.manager.slots["musicgen-small"].model is None  # a refused request loads nothing
    assert isinstance(offered["musicgen-small"], OnDemandModel)


def call(url, data=None):
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_real_server_offers_cached_official_models(hub, tiny_dir, tmp_path):
    put_in_hub_cache(hub, "facebook/musicgen-small", tiny_dir)
    put_in_hub_cache(hub, "facebook/musicgen-stereo-small", tiny_dir, leave_out=("model.safetensors",))
    output = []
    proc, base = start_server(tiny_dir, tmp_path / "data", hf_cache=hub, output=output)
    try:
        assert any("found musicgen-small in the Hugging Face cache" in line for line in output), output
        models = call(base + "/v1/models")["models"]
        assert [(m["name"], m["source"], m["loaded"]) for m in models] == [("tiny", "loaded", True),
                                                                            ("musicgen-small", "cache", False)]
        job_id = call(base + "/v1/jobs", JOB | {"model": "musicgen-small"})["id"]
        end = time.time() + 120
        while (job := call(f"{base}/v1/jobs/{job_id}"))["status"] not in ("done", "failed"):
            assert time.time() < end
            time.sleep(0.2)
        assert job["status"] == "done", job
        with urllib.request.urlopen(base + job["audio"][0], timeout=30) as r:
            assert r.read()[:4] == b"RIFF"
        assert call(base + "/v1/models")["models"][1]["loaded"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_no_cache_scan_flag(hub, tiny_dir, tmp_path):
    put_in_hub_cache(hub, "facebook/musicgen-small", tiny_dir)
    proc, base = start_server(tiny_dir, tmp_path / "data", "--no-cache-scan", hf_cache=hub)
    try:
        assert [m["name"] for m in call(base + "/v1/models")["models"]] == ["tiny"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
