from casefile.audit.shipping import audit_ship
from casefile.audit.verify import audit_verify
from casefile.core.management.base import CasefileCommand


class Command(CasefileCommand):
    help = "The audit ledger: `audit verify [--worm]`, `audit ship`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        verify = sub.add_parser("verify", help="check the chain and checkpoints; exit 1 if broken")
        verify.add_argument("--worm", action="store_true",
                            help="also compare with the segments shipped to the object store")
        sub.add_parser("ship", help="ship unshipped entries to the object store now")

    def handle(self, *args, verb, **options):
        if verb == "ship":
            self.print_json(audit_ship().as_dict())
            return
        report = audit_verify(worm=options["worm"])
        self.print_json(report.as_dict())
        if not report.ok:
            raise SystemExit(1)
