"""Helpers of the `tonecraft serve` tests."""
import time


def wait_for(client, job_id, statuses=("done", "failed", "cancelled"), timeout=30.0, headers=None):
    """Poll a job until its status is one of `statuses`; returns its JSON."""
    end = time.time() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in statuses or time.time() > end:
            return job
        time.sleep(0.05)
