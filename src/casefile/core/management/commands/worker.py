import logging
import os
import signal
import socket
import threading

from django.conf import settings
from django.db import close_old_connections
from django_tasks_db.management.commands.db_worker import Worker

from casefile.audit import ledger
from casefile.core.management.base import CasefileCommand
from casefile.core.schedule import PERIODIC, periodic_jobs_enqueue

logger = logging.getLogger("casefile.worker")


class Command(CasefileCommand):
    help = ("Run background tasks (django-tasks, database queue: no broker), the audit "
            "sequencer (chains new ledger entries every AUDIT_SEQUENCE_MS) and the periodic "
            "jobs of casefile.core.schedule: outbox delivery, SLA sweep, impersonation and "
            "approval expiry, audit shipping to write-once storage, event retention, and pruning "
            "of old task results, login failures and sessions. Run as many workers as you like: "
            "each periodic job is enqueued once per period, whichever worker claims it. "
            "SIGINT/SIGTERM: finish the task in hand, then exit (a second one exits at once). "
            "--once: enqueue every periodic job now, run the queue dry, exit.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=float, default=1.0,
                            help="seconds between looks at the queue and the schedule")

    def handle(self, *args, once, interval, verbosity, **options):
        # django-tasks says "starting"/"started"/"finished" for every task and every pass over
        # the queue: at one pass a second that drowns the log. Failures (ERROR) still show;
        # the schedule logs what each job did.
        if verbosity < 2:
            for name in ("django_tasks", "django_tasks_db"):
                logging.getLogger(name).setLevel(logging.WARNING)
        else:
            logger.setLevel(logging.DEBUG)
        worker_id = f"{socket.gethostname()}-{os.getpid()}"[:64]
        stop = threading.Event()
        current: list[Worker] = []

        def on_signal(signum, frame):
            if stop.is_set():  # asked twice: do not wait for the task in hand
                raise SystemExit(1)
            logger.info("%s: stopping after the task in hand", signal.strsignal(signum))
            stop.set()
            for worker in current:
                worker.running = False

        if not once:
            signal.signal(signal.SIGINT, on_signal)
            signal.signal(signal.SIGTERM, on_signal)
            logger.info("worker %s: periodic jobs %s; audit sequencer every %d ms", worker_id,
                        ", ".join(f"{job.name} every {job.every.total_seconds():g}s"
                                  for job in PERIODIC), settings.AUDIT_SEQUENCE_MS)
            threading.Thread(target=ledger.sequence_until, args=(stop,),
                             name="audit-sequencer", daemon=True).start()
        while not stop.is_set():
            close_old_connections()
            periodic_jobs_enqueue(holder=worker_id, force=once)
            worker = Worker(queue_names=["*"], interval=0, batch=True, backend_name="default",
                            startup_delay=False, max_tasks=None, worker_id=worker_id,
                            excluded_queue_names=[])
            current[:] = [worker]
            worker.run()
            if once:
                return
            stop.wait(interval)
        logger.info("worker %s stopped", worker_id)

