"""Import the role catalogue and the identity store from files, with pandas.

Every import runs the same procedure:

1. Read the file as text and then as a table of strings (``dtype=str``, ``keep_default_na=False``): nothing
   is guessed, so ``000417`` stays ``000417`` and an empty cell stays empty.
2. Check that the columns the format needs are all there (one error naming every missing one).
3. Parse every row into plain values, collecting every error with its row number (the header is row 1,
   as in a spreadsheet) and column. A row the format says to skip is counted, not parsed.
4. In one transaction, check what only the database can tell (an owner that is not in the file), then
   upsert: create what is new, update what changed, skip what already matches exactly.

If any error was found, nothing is written: ``ImportRejected`` carries every error.
"""

import base64
import binascii
import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug
from django.db import transaction

from decisions.audit import audit_record
from decisions.models import AuditKind
from requests.models import Identity, IdentityKind, PrivilegeLevel, Role

IDENTITY_FORMATS = ("generic", "aws-credential-report")
ROLE_FORMATS = ("generic", "aws-managed-policies")

MAX_DURATION_HOURS_BY_LEVEL = {
    PrivilegeLevel.LOW: 24,
    PrivilegeLevel.MEDIUM: 8,
    PrivilegeLevel.HIGH: 4,
    PrivilegeLevel.CRITICAL: 1,
}

# What AWS writes in a credential report where there is no value. None of them means "active".
AWS_NO_VALUE = frozenset({"", "N/A", "no_information", "not_supported"})
AWS_ROOT_USER = "<root_account>"
AWS_ROOT_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):root$")

TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


@dataclass(frozen=True)
class RowError:
    row: int | None
    column: str | None
    message: str

    def __str__(self):
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ImportRejected(Exception):
    """The file has errors; nothing was imported. ``errors`` lists every one of them."""

    def __init__(self, errors):
        # In file order; a stable sort keeps a row's errors in the order of its columns.
        self.errors = sorted(errors, key=lambda error: error.row or 0)
        super().__init__(f"{len(self.errors)} error(s); nothing was imported")


@dataclass(frozen=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0

    def summary(self) -> str:
        return f"created {self.created}, updated {self.updated}, skipped {self.skipped}"


@dataclass(frozen=True)
class IdentityRow:
    """One identity as a file describes it. Fields absent from ``values`` are left as stored."""

    row: int
    username: str
    values: dict
    # The owner's username; only applied when ``sets_owner`` (a credential report knows no owners).
    owner: str | None = None
    sets_owner: bool = False
    # The owner is a row of the same file (checked when parsing), so the database need not know it.
    owner_in_file: bool = False


@dataclass(frozen=True)
class RoleRow:
    row: int
    slug: str
    values: dict


@dataclass
class Parsed:
    """What a file parsed into: the good rows, every error, and rows the format says to skip."""

    rows: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    skipped: int = 0


# ---------------------------------------------------------------------------------------------- reading


def read_table(text: str) -> tuple[pd.DataFrame | None, list[RowError]]:
    """Parse CSV text into a frame of strings, with a row number column counting the header as row 1."""
    # pandas may quietly drop the extra fields of a too-long row; count them ourselves and refuse the file.
    header, *records = list(csv.reader(io.StringIO(text))) or [[]]
    ragged = [
        RowError(number, None, f"{len(fields)} fields, but the header has {len(header)}")
        for number, fields in enumerate(records, start=2)
        if fields and len(fields) != len(header)
    ]
    if ragged:
        return None, ragged
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=False, index_col=False
        )
    except pd.errors.EmptyDataError:
        return None, [RowError(None, None, "the file is empty")]
    except (pd.errors.ParserError, ValueError) as exc:
        return None, [RowError(None, None, f"not a readable CSV file: {str(exc).strip()}")]
    frame.columns = [str(name).strip() for name in frame.columns]
    # Blank lines keep their row number (as a spreadsheet would show it) but are not rows of data.
    frame["_row"] = range(2, len(frame) + 2)
    blank = frame.drop(columns="_row").apply(lambda column: column.str.strip() == "").all(axis=1)
    return frame[~blank], []


def missing_columns(frame: pd.DataFrame, required) -> list[RowError]:
    missing = [name for name in required if name not in frame.columns]
    if missing:
        return [RowError(None, None, f"missing required column(s): {', '.join(missing)}")]
    return []


def credential_report_text(raw: str) -> tuple[str | None, list[RowError]]:
    """The CSV inside a report: the file itself, or the ``Content`` of a ``GetCredentialReport`` response.

    ``Content`` is plain CSV when a tool saved it decoded (cloudmapper does) and base64 when the AWS CLI
    printed it; both are accepted.
    """
    if not raw.lstrip().startswith("{"):
        return raw, []
    try:
        response = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, [RowError(None, None, f"not valid JSON: {exc}")]
    if not isinstance(response, dict) or not isinstance(response.get("Content"), str):
        return None, [RowError(None, None, "not a GetCredentialReport response: no Content")]
    report_format = response.get("ReportFormat", "text/csv")
    if report_format != "text/csv":
        return None, [RowError(None, None, f"ReportFormat {report_format!r} is not supported (only text/csv)")]
    content = response["Content"]
    if content.lstrip().lower().startswith("user,"):
        return content, []
    try:
        return base64.b64decode(content, validate=True).decode("utf-8-sig"), []
    except (binascii.Error, UnicodeDecodeError):
        return None, [RowError(None, None, "Content is neither CSV text nor base64-encoded CSV")]


def read_identity_file(path, *, format: str) -> Parsed:
    """Read and parse an identity file; every problem ends up in ``Parsed.errors``."""
    text = Path(path).read_text(encoding="utf-8-sig")
    if format == "aws-credential-report":
        text, errors = credential_report_text(text)
        if errors:
            return Parsed(errors=errors)
    frame, errors = read_table(text)
    if errors:
        return Parsed(errors=errors)
    if format == "aws-credential-report":
        return parse_credential_report(frame)
    if format == "generic":
        return parse_generic_identities(frame)
    raise ValueError(f"unknown identity format {format!r}")


def read_role_file(path, *, format: str) -> Parsed:
    """Read and parse a role catalogue file; every problem ends up in ``Parsed.errors``."""
    frame, errors = read_table(Path(path).read_text(encoding="utf-8-sig"))
    if errors:
        return Parsed(errors=errors)
    if format == "aws-managed-policies":
        return parse_managed_policies(frame)
    if format == "generic":
        return parse_generic_roles(frame)
    raise ValueError(f"unknown role format {format!r}")


# ---------------------------------------------------------------------------------------------- values


FUTURE_TOLERANCE = timedelta(days=1)


class CellError(ValueError):
    """A cell's value is wrong; the message says why, the caller adds row and column."""


def parse_bool(value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError(f"{value!r} is not true or false")


def parse_timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp with a zone, in UTC.

    A timestamp without a zone is rejected rather than guessed: a few hours either way moves an identity
    across a dormancy threshold, and the file's author knows the zone when we do not.
    """
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CellError(f"{value!r} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        raise CellError(f"{value!r} has no time zone; add Z or an offset such as +00:00")
    # A date in the future would keep an identity "active" for ever; allow a day of clock skew.
    if moment > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise CellError(f"{value!r} is in the future")
    return moment.astimezone(UTC)


def parse_optional_timestamp(value: str) -> datetime | None:
    return parse_timestamp(value) if value.strip() else None


def parse_aws_timestamp(value: str) -> datetime | None:
    return None if value.strip() in AWS_NO_VALUE else parse_timestamp(value)


def parse_aws_bool(value: str) -> bool:
    return False if value.strip() in AWS_NO_VALUE else parse_bool(value)


def latest(*moments):
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


class RowReader:
    """Reads cells of one row, recording an error (row and column) instead of raising."""

    def __init__(self, record: dict, errors: list):
        self.record = record
        self.row = record["_row"]
        self.errors = errors
        self.failed = False

    def error(self, column: str | None, message: str):
        self.errors.append(RowError(self.row, column, message))
        self.failed = True

    def get(self, column: str, parse=None):
        value = self.record[column]
        if parse is None:
            return value
        try:
            return parse(value)
        except CellError as exc:
            self.error(column, str(exc))
            return None


def duplicate_errors(keys: dict, column: str, key: str, row: int, errors: list):
    """Record a second row with the same key as an error naming both rows; remember the first."""
    if key in keys:
        errors.append(RowError(row, column, f"{key!r} is already used by row {keys[key]}"))
        return True
    keys[key] = row
    return False


# ---------------------------------------------------------------------------------------------- identities

GENERIC_IDENTITY_COLUMNS = ("username", "display_name", "kind", "is_admin", "last_activity", "mfa_enabled", "owner")
CREDENTIAL_REPORT_COLUMNS = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
)
USERNAME_MAX = Identity._meta.get_field("username").max_length
DISPLAY_NAME_MAX = Identity._meta.get_field("display_name").max_length


def parse_username(value: str) -> str:
    # Kept exactly as written ("000417" is not "417"); stray spaces would make a second identity unseen.
    if not value:
        raise CellError("is empty")
    if value != value.strip():
        raise CellError(f"{value!r} has leading or trailing spaces")
    if len(value) > USERNAME_MAX:
        raise CellError(f"{value!r} is longer than {USERNAME_MAX} characters")
    return value


def parse_display_name(value: str) -> str:
    name = value.strip()
    if len(name) > DISPLAY_NAME_MAX:
        raise CellError(f"is longer than {DISPLAY_NAME_MAX} characters")
    return name


def parse_choice(value: str, choices: list[str]) -> str:
    """One of `choices`, matched without regard to case or surrounding spaces."""
    by_folded = {choice.casefold(): choice for choice in choices}
    try:
        return by_folded[value.strip().casefold()]
    except KeyError:
        raise CellError(f"{value!r} is not one of {', '.join(choices)}") from None


def parse_kind(value: str) -> str:
    return parse_choice(value, IdentityKind.values)


def parse_generic_identities(frame: pd.DataFrame) -> Parsed:
    """Rows of ``username,display_name,kind,is_admin,last_activity,mfa_enabled,owner``.

    An owner must be a human identity, in this file or already stored; owners in the file are checked
    here, the others by ``identities_import``.
    """
    errors = missing_columns(frame, GENERIC_IDENTITY_COLUMNS)
    if errors:
        return Parsed(errors=errors)
    parsed = Parsed()
    seen: dict[str, int] = {}
    kinds: dict[str, str | None] = {}
    pending = []
    for record in frame.to_dict("records"):
        cells = RowReader(record, parsed.errors)
        username = cells.get("username", parse_username)
        values = {
            "display_name": cells.get("display_name", parse_display_name),
            "kind": cells.get("kind", parse_kind),
            "is_admin": cells.get("is_admin", parse_bool),
            "last_activity": cells.get("last_activity", parse_optional_timestamp),
            "mfa_enabled": cells.get("mfa_enabled", parse_bool),
        }
        owner = cells.get("owner").strip() or None
        if username is not None:
            if duplicate_errors(seen, "username", username, cells.row, parsed.errors):
                cells.failed = True
            else:
                kinds[username] = values["kind"]
        if owner is not None and owner == username:
            cells.error("owner", f"{owner!r} cannot own itself")
        pending.append((cells, username, values, owner))
    for cells, username, values, owner in pending:
        if owner is not None and owner in kinds and kinds[owner] not in (IdentityKind.HUMAN, None):
            cells.error("owner", f"{owner!r} (row {seen[owner]}) is not a human identity; an owner must be human")
        if not cells.failed:
            parsed.rows.append(
                IdentityRow(cells.row, username, values, owner=owner, sets_owner=True, owner_in_file=owner in kinds)
            )
    return parsed


def parse_credential_report(frame: pd.DataFrame) -> Parsed:
    """Rows of an AWS IAM credential report, as AWS emits it.

    - The root account (``<root_account>``) is a human administrator stored as ``root@<account-id>`` (from
      its ARN), so the roots of several accounts never overwrite each other.
    - A console user (password enabled) is human; a user with only an active access key is non-human
      (``service``); a user with neither is human.
    - Last activity is the latest of the password's and both access keys' last use. ``N/A``,
      ``no_information``, ``not_supported`` and empty mean "no value", never "active".
    - The report says nothing about owners, nor about administrator rights outside root: those stay as
      stored (a new identity starts as a non-admin without owner).
    """
    # AWS writes the first header as "user"; some exports capitalise it as "User".
    frame = frame.rename(columns={name: name.lower() for name in frame.columns if name.lower() == "user"})
    errors = missing_columns(frame, CREDENTIAL_REPORT_COLUMNS)
    if errors:
        return Parsed(errors=errors)
    parsed = Parsed()
    seen: dict[str, int] = {}
    for record in frame.to_dict("records"):
        cells = RowReader(record, parsed.errors)
        user = cells.get("user").strip()
        if not user:
            cells.error("user", "is empty")
        created = cells.get("user_creation_time", parse_aws_timestamp)
        password = cells.get("password_enabled", parse_aws_bool)
        password_used = cells.get("password_last_used", parse_aws_timestamp)
        password_changed = cells.get("password_last_changed", parse_aws_timestamp)
        mfa = cells.get("mfa_active", parse_aws_bool)
        keys = []
        for n in (1, 2):
            active = cells.get(f"access_key_{n}_active", parse_aws_bool)
            rotated = cells.get(f"access_key_{n}_last_rotated", parse_aws_timestamp)
            used = cells.get(f"access_key_{n}_last_used_date", parse_aws_timestamp)
            keys.append((active, rotated, used))
        is_root = user == AWS_ROOT_USER
        values = {}
        if is_root:
            match = AWS_ROOT_ARN.match(cells.get("arn").strip())
            if match is None:
                cells.error("arn", f"{cells.get('arn')!r} is not a root account ARN (arn:aws:iam::<account-id>:root)")
                username = None
            else:
                username = f"root@{match.group(1)}"
                values.update(display_name=f"root account {match.group(1)}", kind=IdentityKind.HUMAN, is_admin=True)
        else:
            username = user
            has_active_key = any(active for active, _, _ in keys)
            kind = IdentityKind.SERVICE if has_active_key and not password else IdentityKind.HUMAN
            values.update(display_name=user, kind=kind)
        if username is not None and duplicate_errors(seen, "user", username, cells.row, parsed.errors):
            cells.failed = True
        if cells.failed:
            continue
        values.update(
            last_activity=latest(password_used, *(used for _, _, used in keys)),
            mfa_enabled=mfa,
            credential_created_at=created,
            credential_rotated_at=latest(password_changed, *(rotated for active, rotated, _ in keys if active)),
        )
        parsed.rows.append(IdentityRow(cells.row, username, values))
    return parsed


@transaction.atomic
def identities_import(*, rows, source: str, errors=(), skipped: int = 0) -> ImportResult:
    """Upsert identities by username; all or nothing.

    ``errors`` are the ones parsing found: they are reported together with what only the database can
    tell (an owner neither in the file nor stored, or not human), and any error at all imports nothing.
    ``skipped`` counts rows the format itself skipped.
    """
    errors = list(errors)
    in_file = {row.username for row in rows}

    def owner_to_look_up(row):
        return row.sets_owner and row.owner is not None and row.owner not in in_file and not row.owner_in_file

    wanted_owners = {row.owner for row in rows if owner_to_look_up(row)}
    stored_owners = {i.username: i for i in Identity.objects.filter(username__in=wanted_owners)}
    for row in rows:
        if not owner_to_look_up(row):
            continue
        owner = stored_owners.get(row.owner)
        if owner is None:
            errors.append(RowError(row.row, "owner", f"no identity {row.owner!r} in the file or the database"))
        elif not owner.is_human:
            errors.append(RowError(row.row, "owner", f"{row.owner!r} is not a human identity; an owner must be human"))
    if errors:
        raise ImportRejected(errors)

    stored = {i.username: i for i in Identity.objects.select_related("owner").filter(username__in=in_file)}
    created = updated = 0
    by_username = dict(stored_owners)
    for row in rows:
        values = {**row.values, "source": source}
        identity = stored.get(row.username)
        if identity is None:
            identity = Identity.objects.create(username=row.username, **values)
            created += 1
        else:
            owner_now = identity.owner.username if identity.owner_id else None
            changed = any(getattr(identity, name) != value for name, value in values.items())
            if changed or (row.sets_owner and owner_now != row.owner):
                for name, value in values.items():
                    setattr(identity, name, value)
                identity.save()
                updated += 1
            else:
                skipped += 1
        by_username[row.username] = identity
    # Owners are linked once every identity of the file exists: an owner may come after what it owns.
    for row in rows:
        if not row.sets_owner:
            continue
        identity = by_username[row.username]
        owner = by_username[row.owner] if row.owner else None
        if identity.owner_id != (owner.pk if owner else None):
            identity.owner = owner
            identity.save(update_fields=["owner", "updated_at"])
    return ImportResult(created=created, updated=updated, skipped=skipped)


# ---------------------------------------------------------------------------------------------- roles

GENERIC_ROLE_COLUMNS = ("slug", "name", "privilege_level", "max_duration_hours", "grants_admin")
MANAGED_POLICY_COLUMNS = (
    "policy_name",
    "arn",
    "deprecated",
    "access_levels",
    "n_write",
    "n_permissions_management",
    "n_tagging",
    "privesc",
    "credentials_exposure",
    "resource_exposure",
    "data_access",
    "allows_all_actions",
    "allows_iam_wildcard",
    "uses_notaction",
    "detail_source",
)
SLUG_MAX = Role._meta.get_field("slug").max_length
NAME_MAX = Role._meta.get_field("name").max_length
# Words of a CamelCase name: an acronym before a capitalised word (AWS|Lambda), a capitalised or lower-case
# word, a trailing acronym; digits stay with the word they follow (S3, EC2, Route53).
CAMEL_WORD = re.compile(r"[A-Z]+\d*(?=[A-Z][a-z])|[A-Z]?[a-z]+\d*|[A-Z]+\d*|\d+")


def kebab_slug(name: str) -> str:
    """``AdministratorAccess`` → ``administrator-access``, ``AWSLambda_FullAccess`` → ``aws-lambda-full-access``."""
    return "-".join(word.lower() for word in CAMEL_WORD.findall(name))


def squashed_slug(name: str) -> str:
    """The name in lower case with everything but letters and digits dropped: ``AWSConfigRole`` → ``awsconfigrole``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def check_slug(value: str) -> str:
    if len(value) > SLUG_MAX:
        raise CellError(f"{value!r} is longer than {SLUG_MAX} characters")
    try:
        validate_slug(value)
    except ValidationError:
        raise CellError(f"{value!r} is not a valid slug (letters, digits, hyphens, underscores)") from None
    return value


def parse_level(value: str) -> str:
    return parse_choice(value, PrivilegeLevel.values)


def parse_duration(value: str) -> int:
    try:
        hours = int(value.strip())
    except ValueError:
        raise CellError(f"{value!r} is not a whole number of hours") from None
    if not 1 <= hours <= 720:
        raise CellError(f"{hours} is outside 1 to 720 hours")
    return hours


def parse_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise CellError("is empty")
    if len(name) > NAME_MAX:
        raise CellError(f"{name!r} is longer than {NAME_MAX} characters")
    return name


def parse_generic_roles(frame: pd.DataFrame) -> Parsed:
    """Rows of ``slug,name,privilege_level,max_duration_hours,grants_admin,description`` (description optional)."""
    errors = missing_columns(frame, GENERIC_ROLE_COLUMNS)
    if errors:
        return Parsed(errors=errors)
    parsed = Parsed()
    seen: dict[str, int] = {}
    for record in frame.to_dict("records"):
        cells = RowReader(record, parsed.errors)
        slug = cells.get("slug", lambda value: check_slug(value.strip()))
        values = {
            "name": cells.get("name", parse_name),
            "privilege_level": cells.get("privilege_level", parse_level),
            "max_duration_hours": cells.get("max_duration_hours", parse_duration),
            "grants_admin": cells.get("grants_admin", parse_bool),
            "description": record.get("description", "").strip(),
        }
        if slug is not None and duplicate_errors(seen, "slug", slug, cells.row, parsed.errors):
            cells.failed = True
        if not cells.failed:
            parsed.rows.append(RoleRow(cells.row, slug, values))
    return parsed


@dataclass(frozen=True)
class PolicySignals:
    """What the managed-policy summary says about one policy. ``None`` counts mean "not known"."""

    n_write: int | None
    n_permissions_management: int | None
    n_tagging: int | None
    privesc: bool
    credentials_exposure: bool
    resource_exposure: bool
    data_access: bool
    allows_all_actions: bool
    allows_iam_wildcard: bool
    uses_notaction: bool


def privilege_level_derive(signals: PolicySignals) -> tuple[str, list[str]]:
    """The privilege level a managed policy deserves, with the signals that put it there.

    The first rule that matches wins, from CRITICAL down; see data/ROLE_DERIVATION.md.
    """
    critical = [
        reason
        for flag, reason in (
            (signals.allows_all_actions, "allows all actions"),
            (signals.allows_iam_wildcard, "allows iam:*"),
            (signals.privesc, "privilege escalation"),
        )
        if flag
    ]
    if critical:
        return PrivilegeLevel.CRITICAL, critical
    high = [
        reason
        for flag, reason in (
            (signals.n_permissions_management, f"{signals.n_permissions_management} permissions-management actions"),
            (signals.credentials_exposure, "credentials exposure"),
            (signals.resource_exposure, "resource exposure"),
            # Allow + NotAction grants every action not listed, today's and tomorrow's: counts cannot bound it.
            (signals.uses_notaction, "Allow with NotAction"),
            # Without counts (a policy known only by its document) nothing shows it is read-only.
            (signals.n_write is None, "action counts unknown"),
        )
        if flag
    ]
    if high:
        return PrivilegeLevel.HIGH, high
    medium = [
        reason
        for flag, reason in (
            (signals.n_write, f"{signals.n_write} write actions"),
            (signals.n_tagging, f"{signals.n_tagging} tagging actions"),
            (signals.data_access, "data access"),
        )
        if flag
    ]
    if medium:
        return PrivilegeLevel.MEDIUM, medium
    return PrivilegeLevel.LOW, ["list and read only"]


def parse_signal_bool(value: str) -> bool:
    # The summary leaves a signal empty where its source had nothing to say; that is not a "yes".
    return False if not value.strip() else parse_bool(value)


def parse_count(value: str) -> int | None:
    if not value.strip():
        return None
    try:
        count = int(value.strip())
    except ValueError:
        raise CellError(f"{value!r} is not a whole number") from None
    if count < 0:
        raise CellError(f"{count} is negative")
    return count


def parse_managed_policies(frame: pd.DataFrame) -> Parsed:
    """Rows of the AWS managed-policy summary, each turned into a role (see ``privilege_level_derive``).

    Policies without data (``detail_source`` ``missing-from-snapshot``) and deprecated policies are
    skipped and counted. Two names that kebab to the same slug are told apart if exactly one of them is
    spelled with ``_`` or ``-`` (AWS's newer spelling, ``AWS_ConfigRole`` beside ``AWSConfigRole``): the
    separated spelling keeps the kebab slug and the other takes its squashed name (``awsconfigrole``).
    Any other collision is an error naming both rows.
    """
    errors = missing_columns(frame, MANAGED_POLICY_COLUMNS)
    if errors:
        return Parsed(errors=errors)
    parsed = Parsed()
    candidates = []
    for record in frame.to_dict("records"):
        cells = RowReader(record, parsed.errors)
        name = cells.get("policy_name", parse_name)
        if record["detail_source"].strip() == "missing-from-snapshot" or cells.get("deprecated", parse_signal_bool):
            parsed.skipped += 1
            continue
        signals = PolicySignals(
            n_write=cells.get("n_write", parse_count),
            n_permissions_management=cells.get("n_permissions_management", parse_count),
            n_tagging=cells.get("n_tagging", parse_count),
            **{
                column: cells.get(column, parse_signal_bool)
                for column in (
                    "privesc",
                    "credentials_exposure",
                    "resource_exposure",
                    "data_access",
                    "allows_all_actions",
                    "allows_iam_wildcard",
                    "uses_notaction",
                )
            },
        )
        if cells.failed:
            continue
        level, reasons = privilege_level_derive(signals)
        arn = record["arn"].strip() or "(no ARN in the catalogue)"
        access = record["access_levels"].strip().replace(";", ", ") or "unknown"
        values = {
            "name": name,
            "privilege_level": level,
            "grants_admin": signals.allows_all_actions or signals.allows_iam_wildcard,
            "max_duration_hours": MAX_DURATION_HOURS_BY_LEVEL[level],
            "description": f"AWS managed policy {arn}. Access levels: {access}. "
            f"{PrivilegeLevel(level).label} because: {'; '.join(reasons)}.",
        }
        candidates.append((cells, name, values))

    by_slug: dict[str, list] = {}
    for candidate in candidates:
        by_slug.setdefault(kebab_slug(candidate[1]), []).append(candidate)
    for slug, group in by_slug.items():
        if len(group) == 2:
            separated = [c for c in group if re.search(r"[_-]", c[1])]
            if len(separated) == 1:
                other = group[0] if group[1] is separated[0] else group[1]
                group[:] = [(*separated[0], slug), (*other, squashed_slug(other[1]))]
                continue
        group[:] = [(*candidate, slug) for candidate in group]

    seen: dict[str, tuple[int, str]] = {}
    for cells, name, values, slug in sorted((c for g in by_slug.values() for c in g), key=lambda c: c[0].row):
        try:
            check_slug(slug)
        except CellError as exc:
            cells.error("policy_name", f"{name!r} gives slug {exc}")
            continue
        if slug in seen:
            first_row, first_name = seen[slug]
            cells.error("policy_name", f"{name!r} gives slug {slug!r}, the same as {first_name!r} on row {first_row}")
            continue
        seen[slug] = (cells.row, name)
        parsed.rows.append(RoleRow(cells.row, slug, values))
    return parsed


@transaction.atomic
def roles_import(*, rows, source: str, errors=(), skipped: int = 0) -> ImportResult:
    """Upsert roles by slug; all or nothing. ``skipped`` counts rows the format itself skipped."""
    if errors:
        raise ImportRejected(errors)
    stored = {role.slug: role for role in Role.objects.filter(slug__in=[row.slug for row in rows])}
    created = updated = 0
    for row in rows:
        values = {**row.values, "source": source}
        role = stored.get(row.slug)
        if role is None:
            Role.objects.create(slug=row.slug, **values)
            created += 1
        elif any(getattr(role, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(role, name, value)
            role.save()
            updated += 1
        else:
            skipped += 1
    return ImportResult(created=created, updated=updated, skipped=skipped)


# ---------------------------------------------------------------------------------------------- command


class ImportCommand(BaseCommand):
    """What import_roles and import_identities share: read the whole file, refuse it whole on any
    error, otherwise upsert and record the import on the audit trail in one transaction."""

    target: str  # "roles" or "identities"
    formats: tuple[str, ...]
    file_help = "CSV file"

    def read(self, path: Path, *, format: str) -> Parsed:
        raise NotImplementedError

    def upsert(self, **kwargs) -> ImportResult:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("file", help=self.file_help)
        parser.add_argument("--format", choices=self.formats, default="generic")

    def handle(self, *args, file, format, **options):
        path = Path(file)
        try:
            parsed = self.read(path, format=format)
            with transaction.atomic():
                result = self.upsert(
                    rows=parsed.rows, errors=parsed.errors, skipped=parsed.skipped, source=f"{format}:{path.name}"
                )
                summary = {"target": self.target, "file": path.name, "format": format, **asdict(result)}
                audit_record(kind=AuditKind.IMPORTED, actor="cli", data=summary)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from exc
        except ImportRejected as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(exc.errors)} error(s) in {path.name}; nothing was imported") from exc
        self.stdout.write(result.summary())
