"""The `casefile` command: Django's management commands under one name.

`casefile migrate`, `casefile user add …`, `casefile audit verify`, `casefile documents verify
PACK_ID` and the rest are management commands; this entry point only points Django at
Casefile's settings first.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casefile.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["casefile", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
