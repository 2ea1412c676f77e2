from casefile.cases.services import cases_sla_sweep
from casefile.core.management.base import CasefileCommand


class Command(CasefileCommand):
    help = "Cases housekeeping: `cases sweep` flags SLA breaches (audited as Casefile itself)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("sweep", help="flag open cases past their SLA due time")

    def handle(self, *args, verb, **options):
        flagged = cases_sla_sweep()
        self.print_json({"breached": flagged})
