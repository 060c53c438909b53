"""`tonecraft serve` as users start it: argument checks, then a real server process called over loopback."""
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from helpers_serve import start_server
from tonecraft.cli import main


def test_data_dir_that_is_a_file_is_a_message(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["serve", "--data-dir", str(tmp_path / "file"), "--model", "no-such-model"]) == 1
    err = capsys.readouterr().err
    assert "--data-dir" in err and "Traceback" not in err


@pytest.mark.parametrize("args, words", [
    (["--host", "0.0.0.0"], "--token"),
    (["--host", "192.168.1.20"], "--token"),
    (["--token", "short"], "at least 8"),
    (["--max-queue", "0"], "max-queue"),
    (["--port", "70000"], "port"),
    (["--upload-ttl", "0"], "--upload-ttl"),
    (["--upload-ttl", "nan"], "--upload-ttl"),
    (["--max-disk", "-5"], "--max-disk"),
])
def test_refuses_unsafe_or_bad_arguments_before_loading(args, words, capsys):
    assert main(["serve", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tonecraft serve: error:") and words in err and "Traceback" not in err


def test_default_models_are_the_installed_shipped_ones(monkeypatch):
    from tonecraft.cli import serve
    from tonecraft.pretrained import default_model

    assert serve.default_models()[0] == "tonecraft-default"  # the music default first, installed or not
    monkeypatch.setattr(default_model, "shipped_models", lambda family=None: ["tonecraft-default",
                                                                             "tonecraft-sfx-default"])
    assert serve.default_models() == ["tonecraft-default", "tonecraft-sfx-default"]
    monkeypatch.setattr(default_model, "shipped_models", lambda family=None: ["tonecraft-default"])
    assert serve.default_models() == ["tonecraft-default"]  # the sfx model is offered only once it is installed
    monkeypatch.setattr(default_model, "shipped_models", lambda family=None: [])
    assert serve.default_models() == ["tonecraft-default"]  # loading it then says how to build it


def call(url, data=None, method=None, headers=None):
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json",
                                                                         **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read())


def test_real_server_over_loopback(tiny_dir, sfx_dir, tmp_path):
    proc, base = start_server(tiny_dir, tmp_path / "data", "--model", str(sfx_dir), "--token", "loopback-token",
                              "--upload-ttl", "1", "--max-disk", "100")
    auth = {"Authorization": "Bearer loopback-token"}
    try:
        with pytest.raises(urllib.error.HTTPError) as denied:
            call(base + "/health")
        assert denied.value.code == 401
        assert call(base + "/health", headers=auth) == (200, {"status": "ok", "models": ["tiny", "tiny-sfx"],
                                                              "queued": 0})
        kinds = [(m["name"], m["kind"]) for m in call(base + "/v1/models", headers=auth)[1]["models"]]
        assert kinds == [("tiny", "music"), ("tiny-sfx", "sfx")]
        status, sub = call(base + "/v1/jobs", {"prompt": "over the wire", "duration": 0.5}, headers=auth)
        assert status == 202
        end = time.time() + 60
        while (job := call(f"{base}/v1/jobs/{sub['id']}", headers=auth)[1])["status"] not in ("done", "failed"):
            assert time.time() < end
            time.sleep(0.1)
        assert job["status"] == "done"
        req = urllib.request.Request(base + job["audio"][0], headers=auth)
        assert urllib.request.urlopen(req, timeout=30).read()[:4] == b"RIFF"
        assert (tmp_path / "data" / "tonecraft.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
