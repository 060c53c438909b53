"""Shared fixtures of the `tonecraft serve` tests: one tiny random MusicGen (50 frames/s at 1600 Hz) for all."""
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'tonecraft[serve]')")

from helpers_musicgen import save_tiny_hf_musicgen  # noqa: E402
from helpers_serve import save_tiny_audiogen  # noqa: E402


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve_model") / "tiny"
    d.mkdir()
    save_tiny_hf_musicgen(d, seed=1)
    return d


@pytest.fixture(scope="session")
def tiny_model(tiny_dir):
    from tonecraft.models import load_model

    return load_model(str(tiny_dir))


@pytest.fixture(scope="session")
def sfx_dir(tmp_path_factory):
    return save_tiny_audiogen(tmp_path_factory.mktemp("serve_sfx") / "tiny-sfx")


@pytest.fixture(scope="session")
def sfx_model(sfx_dir):
    from tonecraft.models import load_model

    return load_model(str(sfx_dir))


@pytest.fixture
def make_client(tiny_model, tmp_path):
    """make_client(data_dir=..., models=..., token=..., max_queue=...) -> a started TestClient (closed at the end)."""
    from fastapi.testclient import TestClient

    from tonecraft.serve.app import ServeConfig, create_app

    clients = []

    def make(data_dir=None, models=None, **kw):
        app = create_app(ServeConfig(data_dir or tmp_path / "data", models or {"tiny": tiny_model}, **kw))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)
