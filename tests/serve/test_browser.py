"""The studio page in a real browser: Playwright (PyPI) driving Debian's Chromium against `tonecraft serve`.

No browser is ever downloaded (`playwright install` is never run): the test uses /usr/bin/chromium
(`apt-get install chromium`, done by .ci/run) and skips, saying why, when it is absent. Every request that
leaves loopback is blocked, so the page must work offline. Set TONECRAFT_SCREENSHOT=path to keep the
screenshot elsewhere too (docs/studio.png is made that way).
"""
import os
import shutil
import time
import urllib.parse
from pathlib import Path

import pytest

from helpers_serve import start_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]


def chromium_or_skip():
    if not os.path.exists(CHROMIUM):
        print(f"SKIP reason: no Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("SKIP reason: the playwright package is not installed (pip install playwright)")
        pytest.skip("the playwright package is not installed (pip install playwright)")
    return sync_playwright


def test_studio_in_chromium(tmp_path):
    sync_playwright = chromium_or_skip()
    proc, base = start_server("tonecraft-default", tmp_path / "data")
    problems = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
            page.route("**/*", lambda route: route.continue_() if urllib.parse.urlsplit(route.request.url).hostname
                       in ("127.0.0.1", "localhost") else (problems.append(route.request.url), route.abort()))
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.goto(base + "/")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)

            # type a prompt, press Generate, wait for the waveform
            page.fill("#prompt", "calm solo piano, gentle and slow")
            page.fill("#duration", "2")
            page.fill("#seed", "11")
            page.click("#generate")
            page.wait_for_selector(".job.running, .job.queued, .result", timeout=30_000)
            page.wait_for_selector(".result.done canvas.waveform[data-ready='1']", timeout=180_000)
            card = page.locator(".result.done").first
            job_id = card.get_attribute("data-id")
            assert float(card.locator("canvas.waveform").get_attribute("data-seconds")) == pytest.approx(2.0, abs=0.05)

            # play it
            card.locator("button.play").click()
            page.wait_for_function("document.querySelector('.result.done audio').currentTime > 0", timeout=30_000)

            # download it (wav, then mp3)
            with page.expect_download() as dl:
                card.locator("a.download").click()
            wav = tmp_path / "download.wav"
            dl.value.save_as(wav)
            assert wav.read_bytes()[:4] == b"RIFF" and wav.stat().st_size > 100_000
            card.locator("select.format").select_option("mp3")
            with page.expect_download() as dl:
                card.locator("a.download").click()
            assert dl.value.suggested_filename.endswith(".mp3")
            page.screenshot(path=str(tmp_path / "studio.png"), full_page=False)
            if os.environ.get("TONECRAFT_SCREENSHOT"):
                shutil.copy(tmp_path / "studio.png", os.environ["TONECRAFT_SCREENSHOT"])

            # reload: the result is in the history
            page.reload()
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            page.wait_for_selector(f".result[data-id='{job_id}'] canvas.waveform[data-ready='1']", timeout=30_000)
            assert "calm solo piano" in page.locator(f".result[data-id='{job_id}'] .title").inner_text()

            # multi-prompt: a second segment row continues the piece; the request carries both segments
            page.fill("#prompt", "calm solo piano")
            page.fill("#duration", "1")
            page.fill("#seed", "12")
            page.click("#add-segment")
            page.fill(".segment .segment-prompt", "bright strings join")
            page.fill(".segment .segment-duration", "1")
            page.dispatch_event(".segment .segment-duration", "input")
            assert page.inner_text("#segments-total") == "2 segments, 2 s in all"
            with page.expect_request(lambda r: r.url.endswith("/v1/jobs") and r.method == "POST") as posted:
                page.click("#generate")
            body = posted.value.post_data_json
            assert body["segments"] == [{"prompt": "calm solo piano", "duration": 1},
                                        {"prompt": "bright strings join", "duration": 1}] and "prompt" not in body
            page.wait_for_selector(".result.done canvas.waveform[data-ready='1'] >> nth=1", timeout=180_000)
            piece = page.locator(".result.done").first
            assert piece.locator(".title").inner_text() == "calm solo piano (1 s) → bright strings join (1 s)"
            assert float(piece.locator("canvas.waveform").get_attribute("data-seconds")) == pytest.approx(2.0, abs=0.05)
            page.click(".segment .remove-segment")
            assert page.locator(".segment").count() == 0 and page.inner_text("#segments-total") == ""
            piece.locator("button.reuse").click()  # restores the rows
            assert page.locator(".segment .segment-prompt").input_value() == "bright strings join"
            page.click(".segment .remove-segment")

            # a seamless loop: bars and tempo instead of a duration
            page.check("#loop")
            assert page.is_disabled("#duration") and page.is_disabled("#add-segment")
            page.fill("#bars", "1")
            page.fill("#bpm", "120")
            with page.expect_request(lambda r: r.url.endswith("/v1/jobs") and r.method == "POST") as posted:
                page.click("#generate")
            body = posted.value.post_data_json
            assert (body["loop"], body["bars"], body["bpm"], body["meter"]) == (True, 1, 120, "4/4")
            assert "duration" not in body
            page.wait_for_selector(".result.done canvas.waveform[data-ready='1'] >> nth=2", timeout=180_000)
            looped = page.locator(".result.done").first
            assert "loop of 1 bar at 120 bpm in 4/4" in looped.locator(".meta").inner_text()
            assert float(looped.locator("canvas.waveform").get_attribute("data-seconds")) == pytest.approx(2.0, abs=0.01)
            page.uncheck("#loop")
            assert not page.is_disabled("#duration")

            # a long job, started with Enter, played live, cancelled while it runs
            page.fill("#prompt", "slow ambient drone")
            page.fill("#duration", "60")
            page.fill("#seed", "")
            page.press("#prompt", "Enter")
            try:
                page.wait_for_selector(".job.running .cancel", timeout=60_000)
            except Exception:
                print("message:", page.locator("#message").inner_text(), "queue:", page.locator("#queue").inner_html())
                page.screenshot(path=str(tmp_path / "failed.png"))
                raise
            running_id = page.locator(".job.running").first.get_attribute("data-id")
            # listen while it is generated: the open-ended WAV from /stream plays before the job ends
            page.click(".job.running .listen")
            page.wait_for_function("(document.querySelector('.job.running audio') || {}).currentTime > 0",
                                   timeout=60_000)
            t0 = time.time()
            page.click(".job.running .cancel")
            page.wait_for_selector(f".result.cancelled[data-id='{running_id}']", timeout=30_000)
            assert time.time() - t0 < 20
            assert page.locator(".job.running").count() == 0
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"screenshot: {tmp_path / 'studio.png'}")
    assert not problems, problems
    assert Path(tmp_path / "studio.png").stat().st_size > 10_000
