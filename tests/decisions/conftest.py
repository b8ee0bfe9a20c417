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


def use_broker(app, url: str) -> None:
    """Point the app's publishers at `url`.

    The app caches its connection and producer pools, made for the broker it first published to; dropping
    the references makes the next publish look the pools up again, for the new URL. (Kombu keeps one pool
    per URL, process-wide, so the old ones are left open for whoever switches back.)
    """
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = url


def redis_test_db() -> redis.Redis:
    client = redis.Redis(host=TEST_REDIS_HOST, port=TEST_REDIS_PORT, db=TEST_REDIS_DB, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(
            f"Redis is not answering on {TEST_REDIS_HOST}:{TEST_REDIS_PORT} ({exc}). The pipeline tests need a "
            "real broker: start it with `make test` (or `redis-server --daemonize yes`).",
            pytrace=False,
        )
    return client


@dataclass
class BrokerSwitch:
    """Take the broker away from the web side (publishers) and give it back; the worker keeps its own."""

    app: Celery

    def down(self) -> None:
        use_broker(self.app, f"redis://{TEST_REDIS_HOST}:{unused_port()}/{TEST_REDIS_DB}")

    def up(self) -> None:
        use_broker(self.app, TEST_BROKER_URL)


@pytest.fixture
def celery_app():
    from jitportal.celery import app

    import decisions.tasks  # noqa: F401  (registers the tasks before the worker starts)

    return app


@pytest.fixture
def celery_worker(transactional_db, django_db_serialized_rollback, celery_app):
    """A real Celery worker, in a thread of this process, consuming from Redis database 15.

    The worker's thread has its own database connection, so the tests that use it must commit their
    data (`transactional_db`); serialized rollback puts back the migrations' data (the groups) that the
    flush after each such test removes.
    """
    broker = redis_test_db()
    broker.flushdb()
    original_url = celery_app.conf.broker_url
    use_broker(celery_app, TEST_BROKER_URL)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker
    finally:
        use_broker(celery_app, original_url)
        broker.flushdb()
        broker.close()


@pytest.fixture
def broker_switch(celery_worker, celery_app) -> BrokerSwitch:
    return BrokerSwitch(celery_app)
