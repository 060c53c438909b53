import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Trainer tests are tiny; one intra-op thread avoids oversubscribing shared CPUs."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
