from requests.importers import IDENTITY_FORMATS, ImportCommand, identities_import, read_identity_file


class Command(ImportCommand):
    help = (
        "Import identities from a file, upserting by username. The whole file is checked first: "
        "if any row is malformed, every error is printed and nothing is imported."
    )
    target, formats = "identities", IDENTITY_FORMATS
    file_help = "CSV file, or for aws-credential-report the CSV or GetCredentialReport JSON"

    def read(self, path, *, format):
        return read_identity_file(path, format=format)

    def upsert(self, **kwargs):
        return identities_import(**kwargs)
