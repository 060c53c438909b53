"""The data folder stays bounded: uploads expire unless a job uses them, deleting a job takes its files and the
uploads only it used, orphan files go, and a size cap refuses new work (507) instead of deleting history."""
import io
import os
import time

import numpy as np
import soundfile as sf

from helpers_serve import wait_for

DAY = 24 * 3600


def wav_bytes(seconds=0.3, rate=1600):
    buf = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV")
    return buf.getvalue()


def upload(c, name="a.wav"):
    r = c.post("/v1/uploads", files={"file": (name, wav_bytes(), "audio/wav")})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_unreferenced_uploads_expire_and_used_ones_stay(make_client, tmp_path):
    data = tmp_path / "d"
    c = make_client(data_dir=data)
    janitor = c.app.state.janitor
    loose, used = upload(c), upload(c)
    job = wait_for(c, c.post("/v1/jobs", json={"duration": 0.5, "continuation": used}).json()["id"])
    assert job["status"] == "done"
    assert janitor.sweep() == {"uploads": 0, "orphan_files": 0}  # young: nothing goes
    assert janitor.sweep(now=time.time() + DAY + 60) == {"uploads": 1, "orphan_files": 0}
    assert [f.split(".")[0] for f in files(data / "uploads")] == [used]
    r = c.post("/v1/jobs", json={"duration": 0.5, "continuation": loose})
    assert r.status_code == 400 and "no upload" in r.json()["error"]
    assert c.post("/v1/jobs", json={"duration": 0.5, "continuation": used}).status_code == 202


def test_deleting_a_job_removes_its_files_and_the_uploads_only_it_used(make_client, tmp_path):
    data = tmp_path / "d"
    c = make_client(data_dir=data)
    shared, own, waiting = upload(c), upload(c), upload(c)
    a = wait_for(c, c.post("/v1/jobs", json={"duration": 0.5, "continuation": shared}).json()["id"])
    b = wait_for(c, c.post("/v1/jobs", json={"duration": 0.5, "continuation": own, "n": 2}).json()["id"])
    c2 = wait_for(c, c.post("/v1/jobs", json={"duration": 0.5, "continuation": shared}).json()["id"])
    assert c.get(b["audio"][1], params={"format": "flac"}).status_code == 200  # a cached conversion too
    assert len([f for f in files(data / "audio") if f.startswith(b["id"])]) == 3
    assert c.delete(f"/v1/jobs/{b['id']}").json() == {"id": b["id"], "deleted": True, "uploads_deleted": [own]}
    assert not [f for f in files(data / "audio") if f.startswith(b["id"])]
    assert c.delete(f"/v1/jobs/{a['id']}").json()["uploads_deleted"] == []  # job c2 still uses it
    assert c.delete(f"/v1/jobs/{c2['id']}").json()["uploads_deleted"] == [shared]
    assert [f.split(".")[0] for f in files(data / "uploads")] == [waiting]  # not used yet: kept until it expires
    assert files(data / "audio") == []


def test_orphan_files_go_once_old_and_other_names_are_left(make_client, tmp_path):
    data = tmp_path / "d"
    c = make_client(data_dir=data)
    kept = upload(c)
    old = time.time() - 2 * DAY
    orphans = [data / "audio" / "j0123456789abcdef_0.wav", data / "uploads" / "u0123456789abcdef.wav"]
    young = data / "audio" / "jfedcba9876543210_0.wav"
    for p in orphans + [young]:
        p.write_bytes(b"x")
    for p in orphans:
        os.utime(p, (old, old))
    assert c.app.state.janitor.sweep() == {"uploads": 0, "orphan_files": 2}
    assert files(data / "audio") == [young.name] and files(data / "uploads") == [f"{kept}.wav"]


def test_disk_cap_refuses_new_work_with_507(make_client, tmp_path):
    c = make_client(data_dir=tmp_path / "d", max_disk_bytes=200_000)
    assert c.post("/v1/jobs", json={"duration": 0.5}).status_code == 202
    (tmp_path / "d" / "audio" / "jaaaaaaaaaaaaaaaa_0.wav").write_bytes(b"\0" * 200_000)
    for r in (c.post("/v1/jobs", json={"duration": 0.5}),
              c.post("/v1/uploads", files={"file": ("a.wav", wav_bytes(), "audio/wav")})):
        assert r.status_code == 507 and "cap" in r.json()["error"] and "delete old jobs" in r.json()["error"]
    assert c.app.state.janitor.usage() >= 200_000
