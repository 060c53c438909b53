"""The queue of `tonecraft serve`: cancellation, the bounded queue (429), restart persistence."""
import time

from helpers_serve import wait_for

LONG = {"prompt": "long drone", "duration": 30.0, "seed": 1}


def wait_running(c, job_id, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        job = c.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == "running" and job["progress"] > 0:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never ran")


def test_cancel_running_job_stops_within_a_step_and_frees_the_worker(make_client):
    c = make_client()
    job_id = c.post("/v1/jobs", json=LONG).json()["id"]
    running = wait_running(c, job_id)
    assert running["eta_s"] is not None and 0 < running["progress"] < 1
    t0 = time.time()
    assert c.delete(f"/v1/jobs/{job_id}").status_code == 202
    job = wait_for(c, job_id, timeout=10)
    assert job["status"] == "cancelled" and time.time() - t0 < 2.0
    nxt = c.post("/v1/jobs", json={"prompt": "after", "duration": 0.5}).json()["id"]
    assert wait_for(c, nxt)["status"] == "done"


def test_full_queue_is_429_with_retry_after_and_positions(make_client):
    c = make_client(max_queue=2)
    first = c.post("/v1/jobs", json=LONG).json()["id"]
    wait_running(c, first)
    queued = [c.post("/v1/jobs", json=LONG | {"prompt": f"q{i}"}).json()["id"] for i in range(2)]
    assert [c.get(f"/v1/jobs/{i}").json()["position"] for i in queued] == [1, 2]
    full = c.post("/v1/jobs", json=LONG)
    assert full.status_code == 429 and int(full.headers["retry-after"]) > 0 and "queue is full" in full.json()["error"]
    c.delete(f"/v1/jobs/{queued[0]}")
    assert c.get(f"/v1/jobs/{queued[0]}").json()["status"] == "cancelled"  # a queued job leaves at once
    assert c.get(f"/v1/jobs/{queued[1]}").json()["position"] == 1
    for i in (first, queued[1]):
        c.delete(f"/v1/jobs/{i}")
    assert [wait_for(c, i)["status"] for i in (first, queued[1])] == ["cancelled", "cancelled"]


def test_restart_keeps_history_and_fails_interrupted_jobs(make_client, tmp_path):
    from tonecraft.serve.store import Store

    data = tmp_path / "persist"
    c = make_client(data_dir=data)
    job_id = c.post("/v1/jobs", json={"prompt": "keep me", "duration": 0.5, "seed": 3}).json()["id"]
    assert wait_for(c, job_id)["status"] == "done"
    audio = c.get(f"/v1/jobs/{job_id}/audio/0").content
    c.__exit__(None, None, None)
    store = Store(data / "tonecraft.db")  # a job the dead server was running, and one still waiting
    store.add_job("jdead", "tiny", {"prompt": "x", "duration": 1.0}, 1, 1)
    store.update_job("jdead", status="running", started=time.time())
    store.add_job("jwaiting", "tiny", {"prompt": "w", "duration": 0.5, "top_k": 250, "top_p": 0.0,
                                       "temperature": 1.0, "cfg": 3.0}, 2, 1)
    store.close()
    c2 = make_client(data_dir=data)
    dead = c2.get("/v1/jobs/jdead").json()
    assert dead["status"] == "failed" and "stopped" in dead["error"]
    assert wait_for(c2, "jwaiting")["status"] == "done"  # the queue resumes
    assert c2.get(f"/v1/jobs/{job_id}/audio/0").content == audio
    assert job_id in [j["id"] for j in c2.get("/v1/jobs").json()["jobs"]]
