from requests.importers import ROLE_FORMATS, ImportCommand, read_role_file, roles_import


class Command(ImportCommand):
    help = (
        "Import roles into the catalogue, upserting by slug. aws-managed-policies derives each role's "
        "privilege level from the policy's signals (see the README). The whole file is checked "
        "first: if any row is malformed, every error is printed and nothing is imported."
    )
    target, formats = "roles", ROLE_FORMATS

    def read(self, path, *, format):
        return read_role_file(path, format=format)

    def upsert(self, **kwargs):
        return roles_import(**kwargs)
