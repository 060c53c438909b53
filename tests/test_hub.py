"""tonecraft.hub: offline detection, repo ids, the not-found message (the loaders' tests cover resolution)."""
from tonecraft import hub


def test_hub_helpers(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert hub.is_offline()
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    assert not hub.is_offline()
    assert hub.is_repo_id("facebook/encodec_32khz") and not hub.is_repo_id("encodec_24khz")
    msg = hub.not_found_message("x/y", [["a.json", "b.bin"], ["c.bin"]], repo_id="x/y")
    assert "[a.json + b.bin] or [c.bin]" in msg and "https://huggingface.co/x/y" in msg
