"""Shared fixtures: the catalogue, identities and logins that most tests need, built with the ORM."""

import os
from datetime import timedelta

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.contrib.auth.models import Group, User
from django.db import connections
from django.utils import timezone

from requests.models import Identity, IdentityKind, PrivilegeLevel, Role
from tests.fake_openai import FakeOpenAI

TEST_REDIS_HOST, TEST_REDIS_PORT = "127.0.0.1", 6379
TEST_REDIS_DB = int(os.environ.get("JIT_TEST_REDIS_DB", "15"))
TEST_BROKER_URL = f"redis://{TEST_REDIS_HOST}:{TEST_REDIS_PORT}/{TEST_REDIS_DB}"


@pytest.fixture
def roles(db):
    make = Role.objects.create
    return {
        "low": make(
            slug="read-only-access", name="ReadOnlyAccess", privilege_level=PrivilegeLevel.LOW, max_duration_hours=24
        ),
        "medium": make(slug="s3-write", name="S3Write", privilege_level=PrivilegeLevel.MEDIUM, max_duration_hours=8),
        "high": make(
            slug="iam-full-access", name="IAMFullAccess", privilege_level=PrivilegeLevel.HIGH, max_duration_hours=4
        ),
        "critical": make(
            slug="administrator-access",
            name="AdministratorAccess",
            privilege_level=PrivilegeLevel.CRITICAL,
            grants_admin=True,
            max_duration_hours=1,
        ),
    }


@pytest.fixture
def scenario_identities(db):
    """The three seed scenarios of DESIGN.md."""
    now = timezone.now()
    make = Identity.objects.create
    return {
        "dormant_admin": make(
            username="dormant-admin", kind=IdentityKind.HUMAN, is_admin=True, last_activity=now - timedelta(days=120)
        ),
        "standard_45d": make(username="standard-45d", kind=IdentityKind.HUMAN, last_activity=now - timedelta(days=45)),
        "standard_active": make(
            username="standard-active", kind=IdentityKind.HUMAN, last_activity=now - timedelta(days=1)
        ),
    }


def make_user(username: str, group: str | None, identity: bool = True) -> User:
    user = User.objects.create_user(username=username, password="pw-for-tests-only")
    if group:
        user.groups.add(Group.objects.get(name=group))
    if identity:
        Identity.objects.create(
            username=username, display_name=username.title(), user=user, last_activity=timezone.now(), mfa_enabled=True
        )
    return user


@pytest.fixture
def requester(db):
    return make_user("requester", "requesters")


@pytest.fixture
def other_requester(db):
    return make_user("other-requester", "requesters")


@pytest.fixture
def reviewer(db):
    return make_user("reviewer", "reviewers")


@pytest.fixture
def auditor(db):
    return make_user("auditor", "auditors")


@pytest.fixture(autouse=True)
def no_ai_unless_asked(settings):
    """A developer's own OPENAI_API_KEY must not reach a real model from the tests."""
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = None
    # Logins are made by the dozen; the production hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def decide(identity, role, *, requester, hours=1, justification="Routine maintenance for ticket OPS-1."):
    """Create a request and run the real pipeline on it synchronously (the policy alone unless AI is set)."""
    from decisions.pipeline import request_evaluate
    from requests.models import AccessRequest

    access_request = AccessRequest.objects.create(
        requester=requester, identity=identity, role=role, justification=justification, duration_hours=hours
    )
    request_evaluate(request_id=access_request.pk)
    access_request.refresh_from_db()
    return access_request


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


@pytest.fixture
def celery_app():
    import decisions.tasks  # noqa: F401  (registers the tasks before the worker starts)
    from jitportal.celery import app

    return app


def close_worker_connections(**kwargs):
    connections.close_all()


@pytest.fixture
def celery_worker(transactional_db, django_db_serialized_rollback, celery_app, monkeypatch):
    """A real Celery worker, in a thread of this process, consuming from Redis database 15
    (or JIT_TEST_REDIS_DB).

    The worker's thread has its own database connection, so the tests that use it must commit their
    data (`transactional_db`); serialized rollback puts back the migrations' data (the groups) that the
    flush after each such test removes.
    """
    broker = redis_test_db()
    broker.flushdb()
    original_url = celery_app.conf.changes.get("broker_url")
    use_broker(celery_app, TEST_BROKER_URL, monkeypatch)
    # The worker thread opens its own database connection; close it after each task, as a worker
    # process does, so that it does not outlive the test database.
    task_postrun.connect(close_worker_connections)
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
        task_postrun.disconnect(close_worker_connections)
        broker.flushdb()
        broker.close()


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
