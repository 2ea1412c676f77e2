import io
import sys

from casefile.core.management.base import CasefileCommand
from casefile.events.fingerprint import fingerprint
from casefile.events.grouping import Grouping


class Command(CasefileCommand):
    help = ("Read one message per line (FILE, or stdin) and print `fingerprint<TAB>template` "
            "per line, in order; with --issues, `issue number<TAB>title<TAB>template` once "
            "the whole input is read (the issues it would make on its own, in memory).")

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default="-")
        parser.add_argument("--issues", action="store_true",
                            help="group the lines into issues as ingest would")

    def handle(self, *args, file, issues, **options):
        source = (io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
                  if file == "-" else open(file, encoding="utf-8", errors="replace"))  # noqa: SIM115
        with source:
            lines = (line.rstrip("\r\n") for line in source)
            if issues:
                self._issues(lines)
            else:
                self._write(f"{key}\t{template}\n"
                            for key, template in (fingerprint(message=m) for m in lines))

    def _issues(self, lines) -> None:
        grouping = Grouping()
        templates: dict[str, str] = {}
        order: list[str] = []
        for line in lines:
            key = grouping.add(line)
            templates.setdefault(key, fingerprint(message=line)[1])
            order.append(key)
        # An issue's place is only known once every line is read (issues merge as words vary).
        # Numbered in order of first appearance: these are not ids of stored issues.
        titles = grouping.store.titles
        numbers: dict[str, int] = {}
        for key in order:
            numbers.setdefault(grouping.issue(key), len(numbers) + 1)
        self._write(f"{numbers[grouping.issue(k)]}\t{titles[grouping.issue(k)]}\t{templates[k]}\n"
                    for k in order)

    def _write(self, rows) -> None:
        chunk: list[str] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= 1000:
                self.stdout.write("".join(chunk), ending="")
                chunk.clear()
        self.stdout.write("".join(chunk), ending="")
