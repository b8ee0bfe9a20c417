"""Shared fixtures: the catalogue, identities and logins that most tests need, built with the ORM."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from requests.models import Identity, IdentityKind, PrivilegeLevel, Role


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
