import os
import sys

from casefile.accounts.roles import Role
from casefile.core.demo import SIGN_IN, demo_load
from casefile.core.management.base import CasefileCommand


class Command(CasefileCommand):
    help = ("Load a realistic demo data set through the real services: three days of events "
            "from five services, tenants and platform users, staff in every role, cases in "
            "every status (SLA breached, breaching soon, paused), platform operations "
            "including a pending four-eyes request; then ship the ledger. Idempotent: a second "
            "run changes nothing. Prints how to sign in.")

    def add_arguments(self, parser):
        parser.add_argument("--password-stdin", action="store_true",
                            help=f"read the password of {SIGN_IN.email} (the user to sign in "
                                 "as) from standard input; else a random one is printed once")
        parser.add_argument("--url", default=os.environ.get("CASEFILE_URL", ""),
                            help="where the console is served (for the closing message)")

    def handle(self, *args, password_stdin, url, **options):
        password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
        result = demo_load(password=password, progress=self.stdout.write)
        if result.changed:
            made = ", ".join(f"{count} {what}" for what, count in result.created.items()
                             if count)
            self.stdout.write(f"demo data loaded: {made}")
        else:
            self.stdout.write("the demo data is already loaded: nothing changed")
        if result.shipped_entries:
            self.stdout.write(f"ledger: {result.shipped_entries} entries shipped to "
                              f"write-once storage")
        url = url or f"http://{os.environ.get('HOST', '127.0.0.1')}:" \
                     f"{os.environ.get('PORT', '8000')}/"
        self.stdout.write(f"\nconsole: {url}")
        self.stdout.write(f"sign in as {SIGN_IN.email} ({', '.join(SIGN_IN.roles)})")
        if result.password and not password_stdin:
            self.stdout.write(f"password: {result.password}   (shown once; it is stored "
                              "hashed)")
        elif not result.password:
            self.stdout.write("with the password set when the demo was first loaded")
        if Role.ADMIN in SIGN_IN.roles:
            self.stdout.write("an administrator: at the first sign-in the console asks you to "
                              "enrol a second factor (an authenticator app or a security key)")
