from casefile.core.management.base import CasefileCommand


class Command(CasefileCommand):
    help = "Documents: `documents verify PACK_ID` checks a pack's PDFs and sign events."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        verify = sub.add_parser(
            "verify", help="recompute a pack's hashes, render it again and check its sign "
                           "events' signatures; JSON report, exit 1 if anything failed")
        verify.add_argument("pack_id")

    def handle(self, *args, verb, **options):
        from casefile.documents import signing  # noqa: F401 - registers the local provider
        from casefile.documents.verify import pack_verify

        report = pack_verify(options["pack_id"])
        self.print_json(report.as_dict())
        if not report.ok:
            raise SystemExit(1)
