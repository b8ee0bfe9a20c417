"""Fixtures for the engine's tests: a local OpenAI-compatible server and a broker that can go down."""

import socket
from contextlib import closing
from dataclasses import dataclass

import pytest
from celery import Celery

from tests.conftest import TEST_BROKER_URL, TEST_REDIS_DB, TEST_REDIS_HOST, use_broker


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    return unused_port()


@pytest.fixture
def no_ai(settings):
    """No model configured, whatever the environment running the tests says: the policy decides alone."""
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = None
    return settings


@dataclass
class BrokerSwitch:
    """Take the broker away from the web side (publishers) and give it back; the worker keeps its own."""

    app: Celery
    monkeypatch: pytest.MonkeyPatch

    def down(self) -> None:
        use_broker(self.app, f"redis://{TEST_REDIS_HOST}:{unused_port()}/{TEST_REDIS_DB}", self.monkeypatch)

    def up(self) -> None:
        use_broker(self.app, TEST_BROKER_URL, self.monkeypatch)


@pytest.fixture
def broker_switch(celery_worker, celery_app, monkeypatch) -> BrokerSwitch:
    return BrokerSwitch(celery_app, monkeypatch)
