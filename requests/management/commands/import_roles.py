from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from decisions.audit import audit_record
from decisions.models import AuditKind
from requests.importers import ROLE_FORMATS, ImportRejected, read_role_file, roles_import


class Command(BaseCommand):
    help = (
        "Import roles into the catalogue, upserting by slug. aws-managed-policies derives each role's "
        "privilege level from the policy's signals (data/ROLE_DERIVATION.md). The whole file is checked "
        "first: if any row is malformed, every error is printed and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file")
        parser.add_argument("--format", choices=ROLE_FORMATS, default="generic")

    def handle(self, *args, file, format, **options):
        path = Path(file)
        try:
            parsed = read_role_file(path, format=format)
            # The import and its audit event are committed together, or neither is.
            with transaction.atomic():
                result = roles_import(
                    rows=parsed.rows,
                    errors=parsed.errors,
                    skipped=parsed.skipped,
                    source=f"{format}:{path.name}",
                )
                summary = {"target": "roles", "file": path.name, "format": format, **asdict(result)}
                audit_record(kind=AuditKind.IMPORTED, actor="cli", data=summary)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from exc
        except ImportRejected as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(exc.errors)} error(s) in {path.name}; nothing was imported") from exc
        self.stdout.write(result.summary())
