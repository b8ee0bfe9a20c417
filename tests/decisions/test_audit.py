"""The audit trail: a hash chain that notices edits, deletions and reordering, and the events the
exports, imports and the role admin add to it."""

import csv
import io
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from io import StringIO
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from decisions.audit import GENESIS_HASH, audit_record, audit_verify, event_content_hash
from decisions.export import COLUMNS
from decisions.models import AuditAppendOnly, AuditChainHead, AuditEvent, AuditKind, Decision
from requests.models import AccessRequest, PrivilegeLevel, Role
from tests.conftest import decide

TABLE = connection.ops.quote_name(AuditEvent._meta.db_table)


def chain(n: int) -> list[AuditEvent]:
    return [
        audit_record(kind=AuditKind.EXPORTED, actor="auditor", data={"filters": {}, "rows": index})
        for index in range(n)
    ]


def verify_output() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue().strip()


def verify_failure() -> str:
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", stdout=StringIO(), stderr=StringIO())
    assert failure.value.returncode == 1
    return str(failure.value)


def raw(sql: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("{table}", TABLE), params)


# ------------------------------------------------------------------------------------------- the chain


@pytest.mark.django_db
def test_each_event_links_to_the_previous_one_by_hash():
    first, second, third = chain(3)

    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    head = AuditChainHead.objects.get()
    assert (head.seq, head.last_hash) == (3, third.hash)


@pytest.mark.django_db
def test_stored_events_rehash_to_their_own_hash():
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    audit_record(kind="imported", actor="cli", data={"file": "rôles.csv", "at": when, "counts": [1, 2.5, None]})

    (event,) = AuditEvent.objects.all()
    # Stored as it was hashed: the datetime became its ISO text, the accented name survived.
    assert event.data == {"file": "rôles.csv", "at": "2026-01-02T03:04:05.678Z", "counts": [1, 2.5, None]}
    assert event_content_hash(event) == event.hash
    assert len(event.hash) == 64 and event.hash != GENESIS_HASH


@pytest.mark.django_db
def test_actor_is_a_username_or_a_component_name(auditor):
    assert audit_record(kind="exported", actor=auditor).actor == "auditor"
    assert audit_record(kind="expired", actor="system").actor == "system"
    with pytest.raises(ValueError):
        audit_record(kind="expired", actor="")


@pytest.mark.django_db
def test_an_event_about_a_decision_also_names_its_request(requester, roles):
    access_request = decide(requester.identity, roles["low"], requester=requester)
    event = audit_record(kind="evaluated", actor="worker", decision=access_request.decision)
    assert (event.request_id, event.decision_id) == (access_request.pk, access_request.decision.pk)


@pytest.mark.django_db
def test_the_application_cannot_update_or_delete_an_event():
    (event,) = chain(1)

    event.actor = "mallory"
    with pytest.raises(AuditAppendOnly, match="cannot be updated"):
        event.save()
    with pytest.raises(AuditAppendOnly, match="cannot be deleted"):
        event.delete()

    stored = AuditEvent.objects.get()
    assert stored.actor == "auditor"
    assert audit_verify().intact


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_appends_make_one_unbroken_chain():
    def append(worker):
        try:
            for index in range(10):
                audit_record(kind="exported", actor=f"worker-{worker}", data={"index": index})
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 41))
    assert audit_verify().message() == "audit trail intact: 40 events"


# ------------------------------------------------------------------------------------------- verifying


@pytest.mark.django_db
def test_verify_audit_counts_an_intact_chain():
    assert verify_output() == "audit trail intact: 0 events"
    chain(3)
    assert verify_output() == "audit trail intact: 3 events"


@pytest.mark.django_db
def test_an_edited_event_is_named():
    events = chain(4)

    AuditEvent.objects.filter(pk=events[2].pk).update(data={"filters": {}, "rows": 0})

    assert verify_failure() == f"audit trail broken at event #3 (id {events[2].pk}): content does not match its hash"


@pytest.mark.django_db
def test_an_event_edited_with_sql_is_named():
    events = chain(3)

    raw("UPDATE {table} SET actor = %s WHERE id = %s", "mallory", events[1].pk)

    assert verify_failure() == f"audit trail broken at event #2 (id {events[1].pk}): content does not match its hash"


@pytest.mark.django_db
def test_an_edit_with_a_recomputed_hash_breaks_the_next_link():
    events = chain(3)
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.data = {"filters": {}, "rows": 0}
    AuditEvent.objects.filter(pk=forged.pk).update(data=forged.data, hash=event_content_hash(forged))

    assert verify_failure() == (
        f"audit trail broken at event #3 (id {events[2].pk}): "
        "its link to the previous event is broken (prev_hash does not match)"
    )


@pytest.mark.django_db
def test_a_deleted_event_leaves_a_gap_that_is_named():
    events = chain(4)

    raw("DELETE FROM {table} WHERE id = %s", events[1].pk)

    assert verify_failure() == (
        f"audit trail broken at event #3 (id {events[2].pk}): "
        "out of sequence: events are missing or reordered before it (expected #2)"
    )


@pytest.mark.django_db
def test_deleting_the_newest_event_is_noticed_by_the_head():
    events = chain(3)

    raw("DELETE FROM {table} WHERE id = %s", events[2].pk)

    assert verify_failure() == (
        f"audit trail broken after event #2 (id {events[1].pk}): the chain head does not match the last event "
        f"(the head records #3, hash {events[2].hash[:12]}: the newest event was deleted)"
    )


@pytest.mark.django_db
def test_deleting_every_event_is_noticed_by_the_head():
    chain(2)

    raw("DELETE FROM {table}")

    assert verify_failure() == (
        "audit trail broken after the last event: the chain head does not match the last event "
        f"(the head records #2, hash {AuditChainHead.objects.get().last_hash[:12]}: the newest 2 events were deleted)"
    )


@pytest.mark.django_db
def test_reordered_events_are_named():
    events = chain(4)

    # seq is unique: the swap goes through a spare number.
    raw("UPDATE {table} SET seq = %s WHERE id = %s", 1_000_000, events[1].pk)
    raw("UPDATE {table} SET seq = %s WHERE id = %s", 2, events[2].pk)
    raw("UPDATE {table} SET seq = %s WHERE id = %s", 3, events[1].pk)

    assert verify_failure() == f"audit trail broken at event #2 (id {events[2].pk}): content does not match its hash"


def current_database_url() -> str:
    """The test database (whose committed rows a separate process can read) as a DATABASE_URL."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user, password = quote(db["USER"] or "", safe=""), quote(db["PASSWORD"] or "", safe="")
    return f"postgresql://{user}:{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_command_exits_0_when_intact_and_1_naming_the_event_when_not():
    """The exit status is the contract for cron jobs and CI, so run the real manage.py."""
    events = chain(2)
    env = {**os.environ, "DATABASE_URL": current_database_url()}

    def manage_verify():
        command = [sys.executable, "manage.py", "verify_audit"]
        return subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60)

    intact = manage_verify()
    assert (intact.returncode, intact.stdout.strip()) == (0, "audit trail intact: 2 events")

    AuditEvent.objects.filter(pk=events[0].pk).update(actor="mallory")
    broken = manage_verify()
    assert broken.returncode == 1
    assert f"audit trail broken at event #1 (id {events[0].pk}): content does not match its hash" in broken.stderr


# --------------------------------------------------------------------------------- what gets recorded


def read_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def two_decisions(requester, roles, scenario_identities):
    return [
        decide(scenario_identities["dormant_admin"], roles["high"], requester=requester),
        decide(scenario_identities["standard_active"], roles["low"], requester=requester),
    ]


def test_an_export_records_who_with_which_filters_and_how_many_rows(client, auditor, two_decisions):
    client.force_login(auditor)

    rows = read_csv(client.get("/decisions/export.csv", {"verdict": "DENY"}))

    event = AuditEvent.objects.filter(kind=AuditKind.EXPORTED).get()
    assert (event.actor, event.data) == ("auditor", {"filters": {"verdict": "DENY"}, "rows": len(rows)})
    assert len(rows) == 1


def test_a_rejected_export_records_nothing(client, auditor):
    client.force_login(auditor)
    assert client.get("/decisions/export.csv", {"verdict": "MAYBE"}).status_code == 400
    assert not AuditEvent.objects.filter(kind=AuditKind.EXPORTED).exists()


def evaluated_event(decision: Decision) -> AuditEvent:
    """The pipeline's own event when it records one; otherwise one made here, as the worker would."""
    recorded = AuditEvent.objects.filter(kind=AuditKind.EVALUATED, decision=decision).first()
    return recorded or audit_record(kind=AuditKind.EVALUATED, actor="worker", decision=decision)


def test_the_export_carries_each_decisions_evaluated_event_hash(client, auditor, two_decisions):
    hashes = {r.pk: evaluated_event(r.decision).hash for r in two_decisions}
    client.force_login(auditor)

    rows = read_csv(client.get("/decisions/export.csv"))

    assert COLUMNS[-1] == "audit_hash"
    assert {int(row["request_id"]): row["audit_hash"] for row in rows} == hashes


def test_a_decision_from_before_the_audit_trail_exports_an_empty_hash(client, auditor, requester, roles):
    recorded = decide(requester.identity, roles["low"], requester=requester).decision
    # Made with the ORM alone, as decisions were before the trail existed: no evaluated event.
    legacy_request = AccessRequest.objects.create(
        requester=requester, identity=requester.identity, role=roles["low"], justification="Old.", duration_hours=1
    )
    values = model_to_dict(recorded, exclude=["id", "request"])
    legacy = Decision.objects.create(request=legacy_request, **values)
    client.force_login(auditor)

    rows = {int(row["decision_id"]): row["audit_hash"] for row in read_csv(client.get("/decisions/export.csv"))}

    assert rows == {recorded.pk: evaluated_event(recorded).hash, legacy.pk: ""}


def test_the_audit_hash_costs_no_query_per_row(client, auditor, requester, roles):
    client.force_login(auditor)

    def export_queries():
        with CaptureQueriesContext(connection) as queries:
            read_csv(client.get("/decisions/export.csv"))
        return len(queries)

    decide(requester.identity, roles["low"], requester=requester)
    one = export_queries()
    for _ in range(3):
        decide(requester.identity, roles["low"], requester=requester)
    assert export_queries() == one


@pytest.mark.django_db
def test_an_import_records_the_file_and_its_counts(tmp_path):
    path = tmp_path / "roles.csv"
    path.write_text(
        "slug,name,privilege_level,max_duration_hours,grants_admin\n"
        "read-only,ReadOnly,LOW,8,false\n"
        "admin,Admin,CRITICAL,1,true\n"
    )
    call_command("import_roles", str(path), stdout=StringIO())
    Role.objects.filter(slug="admin").update(max_duration_hours=2)
    call_command("import_roles", str(path), stdout=StringIO())

    first, second = AuditEvent.objects.filter(kind=AuditKind.IMPORTED).order_by("seq")
    assert first.actor == "cli"
    common = {"target": "roles", "file": "roles.csv", "format": "generic"}
    assert first.data == {**common, "created": 2, "updated": 0, "skipped": 0}
    assert second.data == {**common, "created": 0, "updated": 1, "skipped": 1}


@pytest.mark.django_db
def test_an_identity_import_is_recorded_and_a_rejected_one_is_not(tmp_path):
    header = "username,display_name,kind,is_admin,last_activity,mfa_enabled,owner\n"
    good = tmp_path / "people.csv"
    good.write_text(header + "alice,Alice,human,false,2026-01-01T00:00:00Z,true,\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "bob,Bob,robot,false,,true,\n")

    call_command("import_identities", str(good), stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("import_identities", str(bad), stdout=StringIO(), stderr=StringIO())

    (event,) = AuditEvent.objects.filter(kind=AuditKind.IMPORTED)
    assert (event.actor, event.data["target"], event.data["file"]) == ("cli", "identities", "people.csv")
    assert (event.data["created"], event.data["updated"], event.data["skipped"]) == (1, 0, 0)


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-only"))
    return client


def role_form(role: Role, **changes) -> dict:
    """The admin change form's POST data for this role: its current values, then the changes."""
    values = {**model_to_dict(role), **changes}
    # An unchecked checkbox is simply absent from a form's POST.
    return {name: value for name, value in values.items() if value is not None and value is not False} | {
        "_save": "Save"
    }


def test_a_role_change_through_the_admin_is_recorded(admin_client, roles):
    role = roles["medium"]

    response = admin_client.post(
        f"/admin/requests/role/{role.pk}/change/", role_form(role, privilege_level=PrivilegeLevel.HIGH)
    )

    assert response.status_code == 302, response.content
    (event,) = AuditEvent.objects.filter(kind=AuditKind.ROLE_CHANGED)
    assert event.actor == "root"
    assert event.data["slug"] == "s3-write"
    assert event.data["action"] == "changed"
    assert event.data["changed_fields"] == ["privilege_level"]
    assert event.data["changes"] == {"privilege_level": {"from": "MEDIUM", "to": "HIGH"}}


def test_saving_a_role_unchanged_records_nothing(admin_client, roles):
    role = roles["low"]
    assert admin_client.post(f"/admin/requests/role/{role.pk}/change/", role_form(role)).status_code == 302
    assert not AuditEvent.objects.filter(kind=AuditKind.ROLE_CHANGED).exists()


def test_adding_and_deleting_a_role_through_the_admin_are_recorded(admin_client):
    added = admin_client.post(
        "/admin/requests/role/add/",
        {"slug": "ops", "name": "Ops", "privilege_level": "LOW", "max_duration_hours": 4, "_save": "Save"},
    )
    assert added.status_code == 302, added.content
    role = Role.objects.get(slug="ops")
    deleted = admin_client.post(f"/admin/requests/role/{role.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302

    created, removed = AuditEvent.objects.filter(kind=AuditKind.ROLE_CHANGED).order_by("seq")
    assert (created.data["slug"], created.data["action"]) == ("ops", "created")
    assert "privilege_level" in created.data["changed_fields"]
    assert removed.data == {"slug": "ops", "action": "deleted", "changed_fields": []}
    assert audit_verify().intact


def test_the_admin_shows_events_but_cannot_change_them(admin_client):
    (event,) = chain(1)
    assert admin_client.get("/admin/decisions/auditevent/").status_code == 200
    assert admin_client.get(f"/admin/decisions/auditevent/{event.pk}/change/").status_code == 200
    assert admin_client.get("/admin/decisions/auditevent/add/").status_code == 403
    assert admin_client.post(f"/admin/decisions/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


# ------------------------------------------------------------------------------------------ the page


def test_audit_page_permissions(client, requester, reviewer, auditor):
    for user, expected in ((requester, 403), (reviewer, 200), (auditor, 200)):
        client.force_login(user)
        assert client.get("/decisions/audit/").status_code == expected, user.username


def test_audit_page_lists_events_newest_first_with_short_hashes(client, auditor, two_decisions):
    client.force_login(auditor)
    client.get("/decisions/export.csv", {"verdict": "DENY"})

    response = client.get("/decisions/audit/")

    events = list(response.context["page"])
    assert [e.seq for e in events] == sorted((e.seq for e in events), reverse=True)
    newest = events[0]
    assert newest.kind == AuditKind.EXPORTED
    page = response.content.decode()
    assert f'<a href="?hash={newest.hash}" title="{newest.hash}"><code>{newest.hash[:12]}</code></a>' in page
    assert "filters: verdict=DENY; rows: 1" in page
    assert 'href="/decisions/audit/">Audit</a>' in page


def test_audit_page_filters_by_kind_and_request(client, auditor, requester, roles):
    first = decide(requester.identity, roles["low"], requester=requester)
    second = decide(requester.identity, roles["low"], requester=requester)
    for access_request in (first, second):
        evaluated_event(access_request.decision)
    chain(2)
    client.force_login(auditor)

    exported = client.get("/decisions/audit/", {"kind": "exported"}).context["page"]
    assert [e.kind for e in exported] == ["exported", "exported"]

    about_second = client.get("/decisions/audit/", {"kind": "evaluated", "request": second.pk}).context["page"]
    assert [(e.kind, e.request_id) for e in about_second] == [("evaluated", second.pk)]

    unknown = client.get("/decisions/audit/", {"kind": "tampered"})
    assert list(unknown.context["page"]) == []
    assert "Select a valid choice" in unknown.content.decode()


def test_audit_page_paginates_at_50(client, auditor):
    chain(51)
    client.force_login(auditor)
    first = client.get("/decisions/audit/", {"kind": "exported"})
    assert len(first.context["page"]) == 50
    assert "?kind=exported&page=2" in first.content.decode()
    assert [e.seq for e in client.get("/decisions/audit/", {"page": 2}).context["page"]] == [1]


def test_audit_page_query_count_does_not_grow_with_events(client, auditor, requester, roles):
    client.force_login(auditor)

    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/decisions/audit/").status_code == 200
        return len(queries)

    access_request = decide(requester.identity, roles["low"], requester=requester)
    audit_record(kind="exported", actor=auditor, request=access_request)
    few = page_queries()
    for _ in range(10):
        audit_record(kind="exported", actor=auditor, request=access_request, data={"rows": 1})
    assert page_queries() == few


def test_the_data_summary_reads_the_same_on_every_database():
    event = AuditEvent(data={"rows": 0, "model": "", "filters": {"verdict": "DENY", "role": "s3"}, "fields": []})
    assert event.data_summary == "fields: none; filters: role=s3, verdict=DENY; rows: 0"


def test_every_kind_of_state_change_leaves_an_event_and_the_chain_verifies(
    client, requester, reviewer, auditor, roles, scenario_identities, tmp_path
):
    """One pass through the product touching every kind: submit, evaluate, grant, deny, review, expire,
    export, import, change a role."""
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    from decisions.reviews import review_submit, reviews_expire

    client.force_login(requester)
    client.post("/requests/new/", {"role": roles["low"].slug, "justification": "Read the logs.", "duration_hours": 1})
    decide(scenario_identities["standard_active"], roles["low"], requester=requester)  # evaluated, granted
    to_deny = decide(scenario_identities["standard_45d"], roles["high"], requester=requester)
    review_submit(request_id=to_deny.pk, reviewer=reviewer, action="deny")  # reviewed, denied
    to_expire = decide(scenario_identities["standard_45d"], roles["high"], requester=requester)
    Decision.objects.filter(request=to_expire).update(created_at=timezone.now() - timedelta(days=2))
    reviews_expire(now=timezone.now())  # expired
    client.force_login(auditor)
    b"".join(client.get("/decisions/export.csv").streaming_content)  # exported
    path = tmp_path / "roles.csv"
    path.write_text("slug,name,privilege_level,max_duration_hours,grants_admin,description\nx-role,X,LOW,8,false,x\n")
    call_command("import_roles", str(path), stdout=StringIO())  # imported
    role = Role.objects.get(slug="x-role")
    admin = Client()
    admin.force_login(User.objects.create_superuser("security-admin", password="pw-for-tests-only"))
    response = admin.post(f"/admin/requests/role/{role.pk}/change/", role_form(role, max_duration_hours=2))
    assert response.status_code == 302 and response["Location"] == "/admin/requests/role/"  # role_changed
    identity = scenario_identities["standard_45d"]
    response = admin.post(
        f"/admin/requests/identity/{identity.pk}/change/", identity_form(identity, owner=requester.identity.pk)
    )
    assert response.status_code == 302  # identity_changed
    response = admin.post(
        f"/admin/auth/user/{auditor.pk}/change/",
        {"username": "auditor", "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"},
    )
    assert response.status_code == 302  # user_changed: the auditor leaves the auditors group

    assert set(AuditEvent.objects.values_list("kind", flat=True)) == set(AuditKind.values)
    result = audit_verify()
    assert result.intact and result.count == AuditEvent.objects.count()


def test_wiping_the_trail_is_noticed_by_the_records_it_vouches_for(requester, roles, scenario_identities):
    access_request = decide(scenario_identities["standard_active"], roles["low"], requester=requester)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(AuditChainHead._meta.db_table)}")
    result = audit_verify()
    assert not result.intact
    assert result.message() == (
        "audit trail broken: a record disagrees with the audit trail "
        f"(decision {access_request.decision.pk} (request #{access_request.pk}) has no evaluated event)"
    )


def test_a_grant_extended_behind_the_trails_back_is_noticed(requester, roles, scenario_identities):
    from decisions.models import Grant

    access_request = decide(scenario_identities["standard_active"], roles["low"], requester=requester)
    assert audit_verify().intact
    grant = Grant.objects.get(request=access_request)
    Grant.objects.filter(pk=grant.pk).update(expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    result = audit_verify()
    assert result.problem == "a record disagrees with the audit trail"
    assert f"grant {grant.pk} (request #{access_request.pk}) ends 2030-01-01T00:00:00+00:00" in result.detail


def identity_form(identity, **changes) -> dict:
    values = {**model_to_dict(identity), **changes}
    for name in ("last_activity", "credential_created_at", "credential_rotated_at"):
        moment = values.pop(name)
        values[f"{name}_0"], values[f"{name}_1"] = (
            (moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S")) if moment else ("", "")
        )
    return {name: value for name, value in values.items() if value is not None and value is not False} | {
        "_save": "Save"
    }


def test_an_identity_change_through_the_admin_is_recorded(admin_client, reviewer, scenario_identities):
    identity = scenario_identities["dormant_admin"]
    response = admin_client.post(
        f"/admin/requests/identity/{identity.pk}/change/",
        identity_form(identity, is_admin=False, owner=reviewer.identity.pk),
    )
    assert response.status_code == 302, response.content
    (event,) = AuditEvent.objects.filter(kind=AuditKind.IDENTITY_CHANGED)
    assert (event.actor, event.data["username"], event.data["action"]) == ("root", "dormant-admin", "changed")
    assert sorted(event.data["changed_fields"]) == ["is_admin", "owner"]
    assert event.data["changes"]["owner"] == {"from": None, "to": reviewer.identity.pk}
    assert event.data["changes"]["is_admin"] == {"from": True, "to": False}
    assert audit_verify().intact


def test_an_auditor_finds_the_event_behind_an_exported_audit_hash(
    client, auditor, requester, roles, scenario_identities
):
    access_request = decide(scenario_identities["standard_active"], roles["low"], requester=requester)
    client.force_login(auditor)
    body = b"".join(client.get("/decisions/export.csv").streaming_content).decode()
    (row,) = csv.DictReader(io.StringIO(body))
    page = client.get("/decisions/audit/", {"hash": row["audit_hash"]})
    (event,) = page.context["page"]
    assert (event.kind, event.request_id, event.hash) == ("evaluated", access_request.pk, row["audit_hash"])
    assert client.get("/decisions/audit/", {"hash": row["audit_hash"][:8]}).context["page"].paginator.count == 1
    bad = client.get("/decisions/audit/", {"hash": "xyz"})
    assert "Enter at least 6 characters of a hash" in bad.content.decode()


def test_adding_a_user_to_the_reviewers_through_the_admin_is_recorded(admin_client, requester):
    from django.contrib.auth.models import Group

    reviewers = Group.objects.get(name="reviewers")
    form = {
        "username": requester.username,
        "is_active": "on",
        "groups": [str(g.pk) for g in requester.groups.all()] + [str(reviewers.pk)],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "_save": "Save",
    }
    response = admin_client.post(f"/admin/auth/user/{requester.pk}/change/", form)
    assert response.status_code == 302, response.content
    (event,) = AuditEvent.objects.filter(kind=AuditKind.USER_CHANGED)
    assert (event.actor, event.data["username"]) == ("root", "requester")
    assert event.data["changes"]["groups"] == {"from": ["requesters"], "to": ["requesters", "reviewers"]}
    assert set(requester.groups.values_list("name", flat=True)) == {"requesters", "reviewers"}
    assert audit_verify().intact
