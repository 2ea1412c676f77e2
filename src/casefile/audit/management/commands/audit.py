import sys
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management.base import CommandError

from casefile.audit.shipping import audit_ship
from casefile.audit.verify import audit_verify
from casefile.core.management.base import CasefileCommand


class Command(CasefileCommand):
    help = ("The audit ledger: `audit verify [--worm]`, `audit ship`, `audit receipt SEQ`, "
            "`audit verify-receipt FILE [--public-key PEM]`.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        verify = sub.add_parser("verify", help="check the chain and checkpoints; exit 1 if broken")
        verify.add_argument("--worm", action="store_true",
                            help="also compare with the segments shipped to the object store")
        sub.add_parser("ship", help="ship unshipped entries to the object store now")
        receipt = sub.add_parser("receipt", help="print an entry's receipt (JSON)")
        receipt.add_argument("seq", type=int)
        check = sub.add_parser(
            "verify-receipt",
            help="check a receipt offline, without the database; exit 1 if invalid")
        check.add_argument("file", help="the receipt (JSON); - for standard input")
        check.add_argument("--public-key", dest="public_key",
                           help="PEM file of the ledger's public key (default: the trusted keys,"
                                " AUDIT_TRUSTED_PUBLIC_KEYS)")

    def handle(self, *args, verb, **options):
        if verb == "ship":
            self.print_json(audit_ship().as_dict())
            return
        if verb == "receipt":
            from casefile.audit.models import AuditEntry
            from casefile.audit.receipts import receipt_for

            entry = AuditEntry.objects.filter(seq=options["seq"]).first()
            if entry is None:
                raise CommandError(f"no audit entry #{options['seq']}")
            self.print_json(receipt_for(entry))
            return
        if verb == "verify-receipt":
            self._verify_receipt(options["file"], options["public_key"])
            return
        report = audit_verify(worm=options["worm"])
        self.print_json(report.as_dict())
        if not report.ok:
            raise SystemExit(1)

    def _verify_receipt(self, file: str, public_key: str | None) -> None:
        """No database: the receipt, the public keys, and the algorithms."""
        from casefile.audit.receipts import ReceiptInvalid, verify_receipt

        try:
            raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
            receipt = orjson.loads(raw)
            keys = [_load_public(public_key)] if public_key else _trusted()
            self.print_json(verify_receipt(receipt, keys))
        except (OSError, orjson.JSONDecodeError, ReceiptInvalid, ValueError) as exc:
            self.print_json({"ok": False, "reason": str(exc)})
            raise SystemExit(1) from None


def _load_public(path: str) -> Ed25519PublicKey:
    public = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return public


def _trusted() -> list[Ed25519PublicKey]:
    from casefile.audit.checkpoints import trusted_public_keys

    return trusted_public_keys()
