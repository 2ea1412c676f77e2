import getpass

from casefile.accounts import selectors, services
from casefile.audit.actor import Actor
from casefile.core.management.base import CasefileCommand


class Command(CasefileCommand):
    help = "API tokens: `token create EMAIL [--name NAME]`, `token list EMAIL`, `token revoke ID`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        create = sub.add_parser("create", help="print a new token once (only its hash is kept)")
        create.add_argument("email")
        create.add_argument("--name", default="")
        listing = sub.add_parser("list", help="a user's tokens")
        listing.add_argument("email")
        revoke = sub.add_parser("revoke", help="revoke a token by id")
        revoke.add_argument("token_id")

    def handle(self, *args, verb, **options):
        actor = Actor.system("cli", os_user=getpass.getuser())
        if verb == "create":
            owner = selectors.staff_user_get(email=options["email"])
            _, secret = services.api_token_create(actor=actor, owner=owner, name=options["name"])
            self.stdout.write(secret)
        elif verb == "list":
            owner = selectors.staff_user_get(email=options["email"])
            for t in selectors.api_tokens_of(owner):
                state = "revoked" if t.revoked_at else "active"
                self.stdout.write(f"{t.id}\t{t.prefix}…\t{t.name}\t{state}\t"
                                  f"last used {t.last_used_at or 'never'}")
        else:
            token = selectors.api_token_get(options["token_id"])
            services.api_token_revoke(actor=actor, token=token)
            self.stdout.write(f"revoked {token.id}")
