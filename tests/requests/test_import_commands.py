"""The import commands end to end: real files in data/, upserts, and files that must import nothing."""

from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from requests.importers import MANAGED_POLICY_COLUMNS
from requests.models import Identity, IdentityKind, Role

pytestmark = pytest.mark.django_db

DATA = Path(settings.BASE_DIR) / "data"
TESTBENCH = DATA / "aws-credential-report-testbench.csv"
SAA_COURSE = DATA / "aws-credential-report-saa-course.csv"
CLOUDMAPPER = DATA / "aws-credential-report-cloudmapper.json"
POLICIES = DATA / "aws_managed_policies_summary.csv"
IDENTITY_HEADER = "username,display_name,kind,is_admin,last_activity,mfa_enabled,owner\n"


def run(command, *args):
    out, err = StringIO(), StringIO()
    call_command(command, *map(str, args), stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue().strip()


def run_failing(command, *args):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(command, *map(str, args), stdout=out, stderr=err)
    return str(failure.value), err.getvalue().strip().splitlines()


def write(tmp_path, text, name="identities.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def snapshot(model):
    return list(model.objects.order_by("pk").values())


# ------------------------------------------------------------------------------------- credential reports


def test_testbench_report_imports_every_principal():
    out, _ = run("import_identities", TESTBENCH, "--format", "aws-credential-report")

    assert out == "created 5, updated 0, skipped 0"
    root = Identity.objects.get(username="root@278368863034")
    assert (root.kind, root.is_admin) == (IdentityKind.HUMAN, True)
    assert root.last_activity == datetime(2022, 12, 21, 16, 19, 23, tzinfo=UTC)
    assert root.source == "aws-credential-report:aws-credential-report-testbench.csv"


def test_key_only_user_is_a_service_identity_active_when_its_key_was_used():
    run("import_identities", TESTBENCH, "--format", "aws-credential-report")

    cloudgoat = Identity.objects.get(username="cloudgoat")
    assert cloudgoat.kind == IdentityKind.SERVICE
    assert cloudgoat.last_activity == datetime(2022, 12, 21, 18, 30, tzinfo=UTC)
    assert cloudgoat.credential_created_at == datetime(2022, 5, 27, 10, 25, 43, tzinfo=UTC)
    assert cloudgoat.display_name == "cloudgoat"


def test_no_information_means_never_active():
    run("import_identities", TESTBENCH, "--format", "aws-credential-report")

    test_account = Identity.objects.get(username="test_account")
    assert test_account.kind == IdentityKind.HUMAN
    assert test_account.last_activity is None


def test_last_activity_is_the_latest_of_password_and_key_use():
    run("import_identities", TESTBENCH, "--format", "aws-credential-report")

    analyst = Identity.objects.get(username="analyst-j")
    assert analyst.kind == IdentityKind.HUMAN  # console user, although it also has an active key
    # password last used 09:38:09, key 1 last used 10:27:00 the same day
    assert analyst.last_activity == datetime(2023, 1, 3, 10, 27, tzinfo=UTC)
    assert analyst.is_admin is False


def test_roots_of_three_accounts_do_not_overwrite_each_other():
    for report in (TESTBENCH, SAA_COURSE, CLOUDMAPPER):
        run("import_identities", report, "--format", "aws-credential-report")

    roots = Identity.objects.filter(username__startswith="root@").order_by("username")
    assert [(root.username, root.is_admin, root.mfa_enabled) for root in roots] == [
        ("root@123456789012", True, True),
        ("root@156041403698", True, True),
        ("root@278368863034", True, False),
    ]
    assert Identity.objects.count() == 11


def test_json_report_imports_with_the_json_file_as_source():
    out, _ = run("import_identities", CLOUDMAPPER, "--format", "aws-credential-report")

    assert out == "created 3, updated 0, skipped 0"
    auditor = Identity.objects.get(username="auditor_tmp")
    assert (auditor.kind, auditor.last_activity) == (IdentityKind.SERVICE, None)
    assert auditor.source == "aws-credential-report:aws-credential-report-cloudmapper.json"
    user = Identity.objects.get(username="user")
    # key 2 last rotated 2018-05-07 is older than key 1's 2019-05-07; both keys are active
    assert user.credential_rotated_at == datetime(2019, 5, 7, 15, 35, 55, tzinfo=UTC)


def test_reimporting_the_same_report_changes_nothing():
    run("import_identities", TESTBENCH, "--format", "aws-credential-report")
    before = snapshot(Identity)

    out, _ = run("import_identities", TESTBENCH, "--format", "aws-credential-report")

    assert out == "created 0, updated 0, skipped 5"
    assert snapshot(Identity) == before


def test_a_changed_record_is_updated_back_to_the_report():
    run("import_identities", TESTBENCH, "--format", "aws-credential-report")
    Identity.objects.filter(username="cloudgoat").update(mfa_enabled=True, last_activity=None)

    out, _ = run("import_identities", TESTBENCH, "--format", "aws-credential-report")

    assert out == "created 0, updated 1, skipped 4"
    cloudgoat = Identity.objects.get(username="cloudgoat")
    assert (cloudgoat.mfa_enabled, cloudgoat.last_activity) == (False, datetime(2022, 12, 21, 18, 30, tzinfo=UTC))


def test_report_leaves_admin_rights_and_owner_it_cannot_see():
    run("import_identities", TESTBENCH, "--format", "aws-credential-report")
    owner = Identity.objects.get(username="analyst-j")
    Identity.objects.filter(username="analyst-j").update(is_admin=True)
    Identity.objects.filter(username="cloudgoat").update(owner=owner)

    out, _ = run("import_identities", TESTBENCH, "--format", "aws-credential-report")

    assert out == "created 0, updated 0, skipped 5"
    assert Identity.objects.get(username="analyst-j").is_admin is True
    assert Identity.objects.get(username="cloudgoat").owner == owner


def test_report_with_a_malformed_timestamp_imports_nothing(tmp_path):
    text = TESTBENCH.read_text().replace("2022-12-21T18:30:00+00:00", "last tuesday")
    report = write(tmp_path, text, "report.csv")

    message, errors = run_failing("import_identities", report, "--format", "aws-credential-report")

    assert errors == ["row 3, column access_key_1_last_used_date: 'last tuesday' is not an ISO 8601 timestamp"]
    assert message == "1 error(s) in report.csv; nothing was imported"
    assert not Identity.objects.exists()


def test_report_missing_columns_names_them(tmp_path):
    report = write(tmp_path, "user,arn,mfa_active\nalice,arn:aws:iam::1:user/alice,false\n", "report.csv")

    _, errors = run_failing("import_identities", report, "--format", "aws-credential-report")

    assert len(errors) == 1
    assert errors[0].startswith("missing required column(s): user_creation_time, password_enabled,")


# ------------------------------------------------------------------------------------- generic identities


def test_usernames_keep_their_leading_zeros(tmp_path):
    path = write(
        tmp_path,
        IDENTITY_HEADER + "000417,Zero Four,human,false,2024-05-01T09:00:00Z,true,\n" + "417,Four,human,true,,false,\n",
    )

    out, _ = run("import_identities", path)

    assert out == "created 2, updated 0, skipped 0"
    padded, plain = Identity.objects.get(username="000417"), Identity.objects.get(username="417")
    assert (padded.display_name, padded.is_admin, padded.mfa_enabled) == ("Zero Four", False, True)
    assert padded.last_activity == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert (plain.display_name, plain.is_admin, plain.last_activity) == ("Four", True, None)
    assert plain.source == "generic:identities.csv"


def test_owner_may_come_later_in_the_same_file(tmp_path):
    path = write(
        tmp_path,
        IDENTITY_HEADER
        + "deploy-bot,Deploy bot,service,false,2024-05-01T09:00:00+00:00,false,maria\n"
        + "maria,Maria,human,false,2024-05-02T09:00:00+00:00,true,\n",
    )

    run("import_identities", path)

    bot = Identity.objects.get(username="deploy-bot")
    assert bot.kind == IdentityKind.SERVICE
    assert bot.owner == Identity.objects.get(username="maria")


def test_owner_may_be_an_identity_already_stored(tmp_path, scenario_identities):
    path = write(tmp_path, IDENTITY_HEADER + "ci-bot,CI,service,false,,false,standard-active\n")

    run("import_identities", path)

    assert Identity.objects.get(username="ci-bot").owner == scenario_identities["standard_active"]


def test_generic_reimport_skips_matching_rows_and_updates_changed_ones(tmp_path):
    rows = "maria,Maria,human,false,2024-05-02T09:00:00Z,true,\nbot,Bot,service,false,,false,maria\n"
    run("import_identities", write(tmp_path, IDENTITY_HEADER + rows))

    assert run("import_identities", write(tmp_path, IDENTITY_HEADER + rows))[0] == "created 0, updated 0, skipped 2"
    changed = rows.replace("bot,Bot,service,false,,false,maria", "bot,Bot,service,false,,false,")
    assert run("import_identities", write(tmp_path, IDENTITY_HEADER + changed))[0] == "created 0, updated 1, skipped 1"
    assert Identity.objects.get(username="bot").owner is None


def test_malformed_row_names_row_and_column_and_imports_nothing(tmp_path, scenario_identities):
    before = snapshot(Identity)
    path = write(
        tmp_path,
        IDENTITY_HEADER
        + "alice,Alice,human,false,2024-05-01T09:00:00Z,true,\n"
        + "standard-active,Changed,human,true,2024-05-01T09:00:00Z,true,\n"
        + "bob,Bob,human,false,yesterday,true,\n"
        + "carol,Carol,robot,maybe,2024-05-01T09:00:00,true,\n",
    )

    message, errors = run_failing("import_identities", path)

    assert errors == [
        "row 4, column last_activity: 'yesterday' is not an ISO 8601 timestamp",
        "row 5, column kind: 'robot' is not one of human, service",
        "row 5, column is_admin: 'maybe' is not true or false",
        "row 5, column last_activity: '2024-05-01T09:00:00' has no time zone; add Z or an offset such as +00:00",
    ]
    assert message == "4 error(s) in identities.csv; nothing was imported"
    assert snapshot(Identity) == before


def test_unknown_owner_is_reported_and_nothing_imported(tmp_path):
    path = write(
        tmp_path,
        IDENTITY_HEADER + "maria,Maria,human,false,,true,\nbot,Bot,service,false,,false,nobody\n",
    )

    _, errors = run_failing("import_identities", path)

    assert errors == ["row 3, column owner: no identity 'nobody' in the file or the database"]
    assert not Identity.objects.exists()


def test_owner_must_be_human(tmp_path):
    Identity.objects.create(username="stored-bot", kind=IdentityKind.SERVICE)
    path = write(
        tmp_path,
        IDENTITY_HEADER
        + "bot-a,A,service,false,,false,\n"
        + "bot-b,B,service,false,,false,bot-a\n"
        + "bot-c,C,service,false,,false,stored-bot\n",
    )

    _, errors = run_failing("import_identities", path)

    assert errors == [
        "row 3, column owner: 'bot-a' (row 2) is not a human identity; an owner must be human",
        "row 4, column owner: 'stored-bot' is not a human identity; an owner must be human",
    ]


def test_duplicate_username_names_both_rows(tmp_path):
    path = write(tmp_path, IDENTITY_HEADER + "maria,Maria,human,false,,true,\nmaria,M,human,false,,true,\n")

    _, errors = run_failing("import_identities", path)

    assert errors == ["row 3, column username: 'maria' is already used by row 2"]


def test_missing_columns_are_named_in_one_error(tmp_path):
    path = write(tmp_path, "username,kind\nmaria,human\n")

    message, errors = run_failing("import_identities", path)

    assert errors == ["missing required column(s): display_name, is_admin, last_activity, mfa_enabled, owner"]
    assert message == "1 error(s) in identities.csv; nothing was imported"


def test_unknown_format_is_refused_by_the_argument_parser(tmp_path):
    with pytest.raises(CommandError, match="invalid choice: 'okta'"):
        call_command("import_identities", str(write(tmp_path, IDENTITY_HEADER)), "--format", "okta")
    with pytest.raises(CommandError, match="invalid choice: 'azure'"):
        call_command("import_roles", str(write(tmp_path, "slug\n")), "--format", "azure")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read .*nope.csv"):
        call_command("import_identities", str(tmp_path / "nope.csv"))


# ------------------------------------------------------------------------------------- roles


def test_managed_policy_catalogue_imports_every_policy_with_data():
    out, _ = run("import_roles", POLICIES, "--format", "aws-managed-policies")

    # 1,645 rows: 2 missing from the snapshot and 74 deprecated are skipped.
    assert out == "created 1569, updated 0, skipped 76"
    levels = {
        level: Role.objects.filter(privilege_level=level).count() for level in ("LOW", "MEDIUM", "HIGH", "CRITICAL")
    }
    assert levels == {"LOW": 270, "MEDIUM": 687, "HIGH": 212, "CRITICAL": 400}
    assert set(Role.objects.filter(grants_admin=True).values_list("name", flat=True)) == {
        "AdministratorAccess",
        "IAMFullAccess",
    }
    assert not Role.objects.filter(name__in=["AIDevOpsAgentActionsPolicy", "AWSBackupAdminPolicy"]).exists()


@pytest.mark.parametrize(
    ("slug", "name", "level", "hours"),
    [
        ("administrator-access", "AdministratorAccess", "CRITICAL", 1),  # allows all actions
        ("iam-full-access", "IAMFullAccess", "CRITICAL", 1),  # iam:*
        ("aws-lambda-full-access", "AWSLambda_FullAccess", "CRITICAL", 1),  # privesc
        ("power-user-access", "PowerUserAccess", "HIGH", 4),  # Allow + NotAction, no counts
        # The catalogue flags credentials exposure for ReadOnlyAccess (it can read secrets and tokens).
        ("read-only-access", "ReadOnlyAccess", "HIGH", 4),
        ("amazon-s3-read-only-access", "AmazonS3ReadOnlyAccess", "HIGH", 4),  # credentials exposure
        ("cloud-watch-logs-read-only-access", "CloudWatchLogsReadOnlyAccess", "MEDIUM", 8),  # data access
        ("aws-backup-data-transfer-access", "AWSBackupDataTransferAccess", "MEDIUM", 8),  # 7 write actions only
        ("amazon-ec2-read-only-access", "AmazonEC2ReadOnlyAccess", "LOW", 24),  # list and read only
    ],
)
def test_managed_policy_levels(slug, name, level, hours):
    run("import_roles", POLICIES, "--format", "aws-managed-policies")

    role = Role.objects.get(slug=slug)
    assert (role.name, role.privilege_level, role.max_duration_hours) == (name, level, hours)
    assert role.source == "aws-managed-policies:aws_managed_policies_summary.csv"


def test_administrator_access_grants_admin_and_names_its_arn():
    run("import_roles", POLICIES, "--format", "aws-managed-policies")

    role = Role.objects.get(slug="administrator-access")
    assert role.grants_admin is True
    assert role.description.startswith("AWS managed policy arn:aws:iam::aws:policy/AdministratorAccess.")
    assert "allows all actions" in role.description


def test_policy_spelled_with_and_without_underscore_get_distinct_slugs():
    run("import_roles", POLICIES, "--format", "aws-managed-policies")

    assert Role.objects.get(slug="aws-config-role").name == "AWS_ConfigRole"
    assert Role.objects.get(slug="awsconfigrole").name == "AWSConfigRole"
    assert Role.objects.get(slug="aws-code-pipeline-full-access").name == "AWSCodePipeline_FullAccess"


def test_reimporting_the_catalogue_skips_every_row():
    run("import_roles", POLICIES, "--format", "aws-managed-policies")

    out, _ = run("import_roles", POLICIES, "--format", "aws-managed-policies")

    assert out == "created 0, updated 0, skipped 1645"


def policy_row(name, **values):
    row = dict.fromkeys(MANAGED_POLICY_COLUMNS, "False")
    row.update(policy_name=name, arn=f"arn:aws:iam::aws:policy/{name}", access_levels="List;Read")
    row.update(n_write="0", n_permissions_management="0", n_tagging="0", detail_source="iam-dataset")
    row.update(values)
    return ",".join(row[column] for column in MANAGED_POLICY_COLUMNS)


def test_slug_collision_is_an_error_naming_both_rows(tmp_path):
    lines = [",".join(MANAGED_POLICY_COLUMNS), policy_row("AWS_ConfigRole"), policy_row("AWS_Config_Role")]
    path = write(tmp_path, "\n".join(lines) + "\n", "policies.csv")

    _, errors = run_failing("import_roles", path, "--format", "aws-managed-policies")

    assert errors == [
        "row 3, column policy_name: 'AWS_Config_Role' gives slug 'aws-config-role', the same as 'AWS_ConfigRole' on row 2"
    ]
    assert not Role.objects.exists()


def test_malformed_policy_row_imports_nothing(tmp_path):
    lines = [
        ",".join(MANAGED_POLICY_COLUMNS),
        policy_row("GoodPolicy"),
        policy_row("BadPolicy", n_write="lots", privesc="perhaps"),
    ]
    path = write(tmp_path, "\n".join(lines) + "\n", "policies.csv")

    _, errors = run_failing("import_roles", path, "--format", "aws-managed-policies")

    assert errors == [
        "row 3, column n_write: 'lots' is not a whole number",
        "row 3, column privesc: 'perhaps' is not true or false",
    ]
    assert not Role.objects.exists()


ROLE_HEADER = "slug,name,privilege_level,max_duration_hours,grants_admin,description\n"


def test_generic_roles_upsert_by_slug(tmp_path, roles):
    path = write(
        tmp_path,
        ROLE_HEADER
        + "read-only-access,ReadOnlyAccess,LOW,24,false,\n"
        + "s3-write,S3Write,HIGH,4,false,Writes to the data lake\n"
        + "break-glass,Break glass,CRITICAL,1,true,Emergency admin\n",
        "roles.csv",
    )

    out, _ = run("import_roles", path)

    # read-only-access differs from the fixture only by its source, which the import records.
    assert out == "created 1, updated 2, skipped 0"
    s3 = Role.objects.get(slug="s3-write")
    assert (s3.privilege_level, s3.max_duration_hours, s3.description) == ("HIGH", 4, "Writes to the data lake")
    assert Role.objects.get(slug="break-glass").grants_admin is True
    assert run("import_roles", path)[0] == "created 0, updated 0, skipped 3"


def test_generic_role_errors_name_row_and_column(tmp_path, roles):
    before = snapshot(Role)
    path = write(
        tmp_path,
        ROLE_HEADER
        + "new-role,New,LOW,24,false,\n"
        + "Bad Slug,Bad,SUPREME,0,false,\n"
        + "new-role,Again,LOW,24,false,\n",
        "roles.csv",
    )

    message, errors = run_failing("import_roles", path)

    assert errors == [
        "row 3, column slug: 'Bad Slug' is not a valid slug (letters, digits, hyphens, underscores)",
        "row 3, column privilege_level: 'SUPREME' is not one of LOW, MEDIUM, HIGH, CRITICAL",
        "row 3, column max_duration_hours: 0 is outside 1 to 720 hours",
        "row 4, column slug: 'new-role' is already used by row 2",
    ]
    assert message == "4 error(s) in roles.csv; nothing was imported"
    assert snapshot(Role) == before


def test_generic_roles_missing_columns(tmp_path):
    _, errors = run_failing("import_roles", write(tmp_path, "slug,name\nx,X\n", "roles.csv"))

    assert errors == ["missing required column(s): privilege_level, max_duration_hours, grants_admin"]


def test_a_row_with_extra_fields_rejects_the_file(tmp_path):
    path = tmp_path / "roles.csv"
    path.write_text(
        "slug,name,privilege_level,max_duration_hours,grants_admin,description\n"
        "ok-role,OK,LOW,8,false,fine\n"
        "nu-test-role,NU Test,LOW,8,false,Read, list and describe\n"
    )
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_roles", str(path), stderr=err)
    assert "row 3: 7 fields, but the header has 6" in err.getvalue()
    assert not Role.objects.exists()


def test_a_last_activity_in_the_future_is_refused(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text(
        "username,display_name,kind,is_admin,last_activity,mfa_enabled,owner\n"
        "time-traveller,T,human,false,2099-01-01T00:00:00Z,true,\n"
    )
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_identities", str(path), stderr=err)
    assert "row 2, column last_activity: '2099-01-01T00:00:00Z' is in the future" in err.getvalue()
    assert not Identity.objects.exists()
