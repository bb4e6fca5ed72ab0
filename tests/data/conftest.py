"""No test in tests/data may reach the network: downloads are served by fakes."""
import pytest

from tapegrad.data import download


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(url, *args, **kwargs):
        raise AssertionError(f"a test tried to reach the network: {url}")
    monkeypatch.setattr(download, "urlopen", refuse)
