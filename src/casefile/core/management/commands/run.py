import ctypes
import os
import signal
import subprocess
import sys
import time

from casefile.core.management.base import CasefileCommand

# How long the children get to finish what they are doing once asked to stop.
GRACE_SECONDS = 30


def _die_with_parent() -> None:
    """In the child, before exec: if `casefile run` itself is killed outright (SIGKILL, a
    crash), the kernel sends the child SIGTERM, so no orphan keeps serving or working."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Command(CasefileCommand):
    help = ("Run the whole product: the web app (`casefile serve`, gunicorn) and the background "
            "worker (`casefile worker`) as two child processes. SIGINT/SIGTERM stop both "
            "gracefully (a second one kills them). If either exits, the other is stopped and "
            "this command exits non-zero, so a supervisor can restart the pair.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int,
                            default=int(os.environ.get("WEB_CONCURRENCY", "2")),
                            help="gunicorn worker processes")
        parser.add_argument("--threads", type=int, default=int(os.environ.get("THREADS", "4")))

    def handle(self, *args, host, port, workers, threads, **options):
        cli = [sys.executable, "-m", "casefile"]
        commands = {
            "web": [*cli, "serve", "--host", host, "--port", str(port), "--workers",
                    str(workers), "--threads", str(threads)],
            "worker": [*cli, "worker"],
        }
        signals: list[int] = []

        def on_signal(signum, frame):
            signals.append(signum)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        # Own sessions: a Ctrl-C in the terminal reaches only this process, which stops each
        # child once and gracefully, instead of each child taking the terminal's signal too.
        children = {name: subprocess.Popen(argv, start_new_session=True,  # noqa: S603
                                           preexec_fn=_die_with_parent)
                    for name, argv in commands.items()}
        self.stdout.write(f"casefile run: web (pid {children['web'].pid}) on "
                          f"http://{host}:{port}/, worker (pid {children['worker'].pid}); "
                          f"Ctrl-C stops both")
        self.stdout.flush()

        failed = None
        while not signals and failed is None:
            failed = next((name for name, child in children.items()
                           if child.poll() is not None), None)
            time.sleep(0.2)
        if failed is not None:
            self.stderr.write(f"casefile run: the {failed} process exited with status "
                              f"{children[failed].returncode}; stopping the other")
        self._stop(children, signals)
        if failed is not None:
            sys.exit(1)
        codes = {name: child.returncode for name, child in children.items()}
        if any(codes.values()):
            self.stderr.write(f"casefile run: exit statuses {codes}")
            sys.exit(1)

    def _stop(self, children: dict[str, subprocess.Popen], signals: list[int]) -> None:
        asked = len(signals)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        while any(child.poll() is None for child in children.values()):
            if time.monotonic() > deadline or len(signals) > asked:  # out of time, or insisted
                for child in children.values():
                    if child.poll() is None:
                        child.kill()
            time.sleep(0.1)
