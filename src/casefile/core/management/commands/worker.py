import socket
import time

from django_tasks_db.management.commands.db_worker import Worker

from casefile.core.management.base import CasefileCommand
from casefile.core.schedule import PERIODIC


class Command(CasefileCommand):
    help = ("Run background tasks (django-tasks, database backend) and the periodic jobs "
            "(outbox delivery, SLA sweep, impersonation expiry, audit shipping). "
            "--once: run every periodic job once, drain the queue, exit.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=float, default=1.0,
                            help="seconds between looks at the queue")

    def handle(self, *args, once, interval, **options):
        worker_id = f"{socket.gethostname()}-{id(self)}"[:64]
        last_run: dict = {}
        while True:
            moment = time.monotonic()
            for job, every in PERIODIC:
                if once or moment - last_run.get(job, float("-inf")) >= every:
                    job.enqueue()
                    last_run[job] = moment
            Worker(queue_names=["*"], interval=0, batch=True, backend_name="default",
                   startup_delay=False, max_tasks=None, worker_id=worker_id,
                   excluded_queue_names=[]).run()
            if once:
                return
            time.sleep(interval)
