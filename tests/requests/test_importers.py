"""The import rules as plain functions: slugs, privilege levels, timestamps, the report's JSON wrapping."""

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings

from requests.importers import (
    CellError,
    PolicySignals,
    credential_report_text,
    kebab_slug,
    parse_timestamp,
    privilege_level_derive,
    read_identity_file,
    read_role_file,
)

DATA = Path(settings.BASE_DIR) / "data"


def signals(**overrides):
    quiet = dict(
        n_write=0,
        n_permissions_management=0,
        n_tagging=0,
        privesc=False,
        credentials_exposure=False,
        resource_exposure=False,
        data_access=False,
        allows_all_actions=False,
        allows_iam_wildcard=False,
        uses_notaction=False,
    )
    return PolicySignals(**{**quiet, **overrides})


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("AdministratorAccess", "administrator-access"),
        ("AWSLambda_FullAccess", "aws-lambda-full-access"),
        ("AmazonS3FullAccess", "amazon-s3-full-access"),
        ("AmazonEC2ReadOnlyAccess", "amazon-ec2-read-only-access"),
        ("AdministratorAccess-Amplify", "administrator-access-amplify"),
        ("IAMFullAccess", "iam-full-access"),
    ],
)
def test_policy_names_become_kebab_case_slugs(name, slug):
    assert kebab_slug(name) == slug


@pytest.mark.parametrize(
    ("overrides", "level"),
    [
        ({}, "LOW"),
        ({"n_write": 3}, "MEDIUM"),
        ({"n_tagging": 1}, "MEDIUM"),
        ({"data_access": True}, "MEDIUM"),
        ({"n_permissions_management": 2, "n_write": 5}, "HIGH"),
        ({"credentials_exposure": True}, "HIGH"),
        ({"resource_exposure": True}, "HIGH"),
        ({"uses_notaction": True}, "HIGH"),
        ({"n_write": None, "n_permissions_management": None, "n_tagging": None}, "HIGH"),
        ({"privesc": True, "n_write": 1}, "CRITICAL"),
        ({"allows_iam_wildcard": True}, "CRITICAL"),
        ({"allows_all_actions": True, "n_write": None}, "CRITICAL"),
    ],
)
def test_privilege_level_follows_the_strongest_signal(overrides, level):
    derived, reasons = privilege_level_derive(signals(**overrides))
    assert derived == level
    assert reasons


def test_timestamps_with_a_zone_are_read_as_utc():
    assert parse_timestamp("2022-12-21T16:19:23+00:00") == datetime(2022, 12, 21, 16, 19, 23, tzinfo=UTC)
    assert parse_timestamp("2025-01-29T16:46:14Z") == datetime(2025, 1, 29, 16, 46, 14, tzinfo=UTC)
    assert parse_timestamp("2024-03-01T10:00:00+02:00") == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def test_timestamp_without_a_zone_is_rejected_not_guessed():
    with pytest.raises(CellError, match="has no time zone"):
        parse_timestamp("2024-03-01T10:00:00")


def test_cloudmapper_json_report_parses_like_its_embedded_csv(tmp_path):
    content = json.loads((DATA / "aws-credential-report-cloudmapper.json").read_text())["Content"]
    as_csv = tmp_path / "report.csv"
    as_csv.write_text(content)

    from_json = read_identity_file(DATA / "aws-credential-report-cloudmapper.json", format="aws-credential-report")
    from_csv = read_identity_file(as_csv, format="aws-credential-report")

    assert from_json.errors == []
    assert from_json.rows == from_csv.rows
    assert [row.username for row in from_json.rows] == ["root@123456789012", "auditor_tmp", "user"]


def test_base64_content_as_the_aws_cli_prints_it_is_decoded():
    csv_text = (DATA / "aws-credential-report-saa-course.csv").read_text()
    response = json.dumps({"Content": base64.b64encode(csv_text.encode()).decode(), "ReportFormat": "text/csv"})

    text, errors = credential_report_text(response)

    assert errors == []
    assert text == csv_text


def test_report_in_another_format_than_csv_is_refused():
    text, errors = credential_report_text(json.dumps({"Content": "x", "ReportFormat": "text/xml"}))
    assert text is None
    assert "ReportFormat 'text/xml' is not supported" in str(errors[0])


def test_testbench_report_signals():
    parsed = read_identity_file(DATA / "aws-credential-report-testbench.csv", format="aws-credential-report")
    rows = {row.username: row.values for row in parsed.rows}

    assert parsed.errors == []
    assert rows["root@278368863034"]["credential_created_at"] == datetime(2022, 3, 8, 16, 2, 25, tzinfo=UTC)
    # The root's password change date is "not_supported" and it has no active key: nothing to date it by.
    assert rows["root@278368863034"]["credential_rotated_at"] is None
    # cloudgoat's only key was created with the user and never rotated since.
    assert rows["cloudgoat"]["credential_rotated_at"] == datetime(2022, 5, 27, 10, 25, 44, tzinfo=UTC)
    # A key that exists but was never used is not activity.
    assert rows["test_key_account"]["last_activity"] is None


def test_missing_and_deprecated_policies_are_skipped_and_counted():
    parsed = read_role_file(DATA / "aws_managed_policies_summary.csv", format="aws-managed-policies")
    names = {row.values["name"] for row in parsed.rows}

    assert parsed.errors == []
    assert parsed.skipped == 76  # 2 missing from the snapshot + 74 deprecated
    assert len(parsed.rows) == 1569
    assert "AIDevOpsAgentActionsPolicy" not in names  # missing-from-snapshot
    assert "AWSBackupAdminPolicy" not in names  # deprecated
