import io
import sys

from casefile.core.management.base import CasefileCommand
from casefile.events.fingerprint import fingerprint


class Command(CasefileCommand):
    help = ("Read one message per line (FILE, or stdin) and print `fingerprint<TAB>template` "
            "per line, in order.")

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default="-")

    def handle(self, *args, file, **options):
        source = (io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
                  if file == "-" else open(file, encoding="utf-8", errors="replace"))  # noqa: SIM115
        out = self.stdout
        with source:
            chunk: list[str] = []
            for line in source:
                key, template = fingerprint(message=line.rstrip("\r\n"))
                chunk.append(f"{key}\t{template}\n")
                if len(chunk) >= 1000:
                    out.write("".join(chunk), ending="")
                    chunk.clear()
            out.write("".join(chunk), ending="")
