"""Fixtures for the engine's tests: a local OpenAI-compatible server, and a real Celery worker on Redis."""

import socket
from contextlib import closing
from dataclasses import dataclass

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker

from tests.fake_openai import FakeOpenAI

TEST_REDIS_HOST, TEST_REDIS_PORT, TEST_REDIS_DB = "127.0.0.1", 6379, 15
TEST_BROKER_URL = f"redis://{TEST_REDIS_HOST}:{TEST_REDIS_PORT}/{TEST_REDIS_DB}"


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    return unused_port()


@pytest.fixture
def fake_openai():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def ai_settings(settings, fake_openai):
    """Point the real advisor, through the real SDK, at the fake server."""
    settings.OPENAI_API_KEY = "test-key"
    settings.OPENAI_BASE_URL = f"{fake_openai.url}/v1"
    settings.JIT_AI_MODEL = "test-model"
    settings.JIT_AI_TIMEOUT_SECONDS = 1
    return settings


@pytest.fixture
def no_ai(settings):
    """No model configured, whatever the environment running the tests says: the policy decides alone."""
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = None
    return settings


def use_broker(app: Celery, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the app's publishers at `url`.

    Celery reads the CELERY_BROKER_URL environment variable before its own configuration (and the
    test settings set that variable), so both change.

    The app caches its connection and producer pools, made for the broker it first published to; dropping
    the references makes the next publish look the pools up again, for the new URL. (Kombu keeps one pool
    per URL, process-wide, so the old ones are left open for whoever switches back.)
    """
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    app.conf.broker_url = url
    forget_pools(app)


def forget_pools(app: Celery) -> None:
    app._pool = None
    app.amqp._producer_pool = None


def redis_test_db() -> redis.Redis:
    client = redis.Redis(host=TEST_REDIS_HOST, port=TEST_REDIS_PORT, db=TEST_REDIS_DB, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        problem = str(exc)
    else:
        return client
    pytest.fail(
        f"Redis is not answering on {TEST_REDIS_HOST}:{TEST_REDIS_PORT} ({problem}). The pipeline tests need a real "
        "broker: `make test` starts one (or run `redis-server --daemonize yes`).",
        pytrace=False,
    )


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
def celery_app():
    import decisions.tasks  # noqa: F401  (registers the tasks before the worker starts)
    from jitportal.celery import app

    return app


@pytest.fixture
def celery_worker(transactional_db, django_db_serialized_rollback, celery_app, monkeypatch):
    """A real Celery worker, in a thread of this process, consuming from Redis database 15.

    The worker's thread has its own database connection, so the tests that use it must commit their
    data (`transactional_db`); serialized rollback puts back the migrations' data (the groups) that the
    flush after each such test removes.
    """
    broker = redis_test_db()
    broker.flushdb()
    original_url = celery_app.conf.changes.get("broker_url")
    use_broker(celery_app, TEST_BROKER_URL, monkeypatch)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker
    finally:
        # The app's own setting goes back here; the environment when monkeypatch undoes its changes.
        if original_url is None:
            celery_app.conf.changes.pop("broker_url", None)
        else:
            celery_app.conf.broker_url = original_url
        forget_pools(celery_app)
        broker.flushdb()
        broker.close()


@pytest.fixture
def broker_switch(celery_worker, celery_app, monkeypatch) -> BrokerSwitch:
    return BrokerSwitch(celery_app, monkeypatch)
