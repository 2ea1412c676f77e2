from casefile.core.management.base import CasefileCommand
from casefile.events.services import events_purge


class Command(CasefileCommand):
    help = "Events housekeeping: `events purge [--older-than DAYS]` applies the retention period."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        purge = sub.add_parser("purge", help="delete events older than the retention period")
        purge.add_argument("--older-than", type=int, default=None, metavar="DAYS",
                           help="default: EVENT_RETENTION_DAYS")

    def handle(self, *args, verb, older_than, **options):
        deleted = events_purge(older_than_days=older_than)
        self.print_json({"deleted": deleted})
