import getpass
import sys

from django.conf import settings

from casefile.accounts import factors, selectors, services
from casefile.accounts.roles import Role, sorted_roles
from casefile.audit.actor import Actor
from casefile.core.management.base import CasefileCommand


class Command(CasefileCommand):
    help = "Manage staff users: `user add EMAIL --role ROLE …`, `user list`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        add = sub.add_parser("add", help="create a staff user")
        add.add_argument("email")
        add.add_argument("--role", action="append", required=True,
                         choices=[r.value for r in Role], help="repeat for several roles")
        add.add_argument("--name", default="")
        add.add_argument("--password-stdin", action="store_true",
                         help="read the password from standard input (else: no password, "
                              "API tokens only)")
        sub.add_parser("list", help="list staff users and their roles")
        link = sub.add_parser("enrol-link", help="print a new enrolment link for a staff user "
                                                 "(set a password, enrol a second factor)")
        link.add_argument("email")

    def handle(self, *args, verb, **options):
        if verb == "list":
            for user in selectors.staff_users():
                roles = ",".join(sorted_roles(g.role for g in user.role_grants.all()))
                state = "" if user.is_active else " (inactive)"
                self.stdout.write(f"{user.id}\t{user.email}\t{roles}{state}")
            return
        if verb == "enrol-link":
            self._link(selectors.staff_user_get(email=options["email"]))
            return
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
        user = services.staff_user_create(
            actor=Actor.system("cli", os_user=getpass.getuser()),
            email=options["email"],
            name=options["name"],
            roles=[Role(r) for r in options["role"]],
            password=password,
        )  # the operator's CLI records the registry's reason for the action, not one of its own
        self.stdout.write(f"created {user.email} ({user.id}) with roles "
                          f"{', '.join(sorted_roles(user.roles))}")
        self._link(user)

    def _link(self, user) -> None:
        """Single use (setting the password spends it), ENROLMENT_LINK_HOURS long. It is the
        way back in after a lost second factor too: give a new one."""
        required = ", required for admin" if Role.ADMIN in user.roles else ""
        self.stdout.write(f"enrolment link for {user.email} (works once, for "
                          f"{settings.ENROLMENT_LINK_HOURS} hours; sets a password, then a "
                          f"second factor{required}): {factors.enrolment_link(user)}")
