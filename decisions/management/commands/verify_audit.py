from django.core.management.base import BaseCommand, CommandError

from decisions.audit import audit_verify


class Command(BaseCommand):
    help = (
        "Walk the audit trail's hash chain from the first event to the last. Exits 0 and prints the count "
        "when it is intact; exits 1 naming the first event whose content or link no longer matches."
    )

    def handle(self, *args, **options):
        result = audit_verify()
        if not result.intact:
            raise CommandError(result.message())
        self.stdout.write(result.message())
