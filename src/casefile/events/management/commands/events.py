from casefile.core.management.base import CasefileCommand
from casefile.events.services import events_purge


class Command(CasefileCommand):
    help = ("Events housekeeping: `events purge [--older-than DAYS]` applies the retention "
            "period and prints what it removed.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        purge = sub.add_parser("purge", help="remove events older than the retention period "
                               "(PostgreSQL: whole months, keeping events linked to cases)")
        purge.add_argument("--older-than", type=int, default=None, metavar="DAYS",
                           help="default: EVENT_RETENTION_DAYS")

    def handle(self, *args, verb, older_than, **options):
        self.print_json(events_purge(older_than_days=older_than).as_dict())
