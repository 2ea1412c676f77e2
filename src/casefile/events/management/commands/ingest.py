import getpass
import os
import sys
import time

from casefile.audit.actor import Actor
from casefile.core.management.base import CasefileCommand
from casefile.events.parsing import FORMATS, UnusableInput
from casefile.events.services import IngestResult, events_ingest

EXIT_SOME_REJECTED = 3
EXIT_UNUSABLE = 2


class Command(CasefileCommand):
    help = ("Ingest events from files (or - for stdin). Prints one JSON object "
            '{"accepted","duplicates","rejected","errors"}; exit 0 when nothing was rejected, '
            "3 when some lines were, 2 when the input is unusable.")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--format", default="auto", choices=FORMATS)
        parser.add_argument("--source", default="cli", help="the events' source when they "
                            "do not name one")

    def handle(self, *args, paths, format, source, **options):  # noqa: A002
        actor = Actor.system("cli", os_user=getpass.getuser())
        total = IngestResult()
        for path in paths:
            try:
                stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
            except OSError as exc:
                self._unusable(f"{path}: {exc.strerror}")
            with stream:
                progress = _Progress(path, stream) if sys.stderr.isatty() else None
                try:
                    result = events_ingest(actor=actor, data=stream, fmt=format, source=source,
                                           progress=progress)
                except UnusableInput as exc:
                    self._unusable(f"{path}: {exc}")
                if progress:
                    progress.done()
            total.accepted += result.accepted
            total.duplicates += result.duplicates
            for error in result.errors:
                error = {**error, "file": path} if len(paths) > 1 else error
                total.errors.append(error)
            total.rejected += result.rejected
        self.print_line(total.as_dict())
        if total.rejected:
            raise SystemExit(EXIT_SOME_REJECTED)

    def _unusable(self, message: str):
        self.print_line({"accepted": 0, "duplicates": 0, "rejected": 0,
                         "errors": [{"line": 0, "error": message}]})
        raise SystemExit(EXIT_UNUSABLE)

    def print_line(self, value) -> None:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(value) + b"\n")
        sys.stdout.flush()


class _Progress:
    """A one-line progress bar on stderr (only on a terminal), by bytes read when the size is
    known, else by lines."""

    def __init__(self, path: str, stream):
        self.path, self.stream, self.started = path, stream, time.monotonic()
        try:
            self.size = os.fstat(stream.fileno()).st_size if path != "-" else 0
        except (OSError, ValueError):
            self.size = 0

    def __call__(self, lines: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = f"{lines / elapsed:,.0f} lines/s"
        if self.size:
            done = min(self.stream.tell() / self.size, 1.0)
            bar = "#" * int(done * 30)
            sys.stderr.write(f"\r{self.path}: [{bar:<30}] {done:4.0%} {lines:,} lines {rate}")
        else:
            sys.stderr.write(f"\r{self.path}: {lines:,} lines {rate}")
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")
