"""Second factors in tests: authenticator-app codes computed as the app would, a software
security key (an EC P-256 key that answers WebAuthn ceremonies as the spec says), and marking a
test client's session as having proven a factor (what `force_login` stands for, conftest)."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
import time
from datetime import datetime

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from casefile.accounts.models import StaffSession
from casefile.core.timeutil import now


def enrol_totp(user, *, name: str = "Phone") -> TOTPDevice:
    """A confirmed authenticator app for `user` (set up directly: the enrolment pages have
    their own tests)."""
    return TOTPDevice.objects.create(user=user, name=name, confirmed=True)


def totp_code(device: TOTPDevice, *, at: float | None = None) -> str:
    """The code the app shows at `at` (now by default): the app knows nothing of the drift the
    server has learnt."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{device.digits}d}"


def fresh_totp_code(device: TOTPDevice) -> str:
    """A code not yet spent: the current one, or — when it was just accepted — a later time
    step's that the device still accepts (its tolerance), as if the next 30 s had come."""
    device.refresh_from_db()
    step_now = int((time.time() - device.t0) // device.step)
    step = max(step_now, device.last_t + 1)
    if step > step_now + device.drift + device.tolerance:
        raise AssertionError("every code this device accepts now is spent")
    return totp_code(device, at=device.t0 + step * device.step)


def prove_second_factor(client, *, at: datetime | None = None, factor: str = "totp") -> None:
    """The client's session proved a second factor at `at` (now): its StaffSession row, the
    same state the verify page sets."""
    key = client.session.session_key
    assert StaffSession.objects.filter(session_key=key).update(
        second_factor_at=at or now(), second_factor=factor) == 1, "no session row"


def b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftKey:
    """A security key in software (WebAuthn Level 2, sections 6.1 and 6.5): an ES256 key pair,
    a credential id, and a signature counter. It answers the options a server sends with the
    JSON a browser would post (py_webauthn's form: base64url fields)."""

    def __init__(self, *, sign_count: int = 0) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.sign_count = sign_count

    def cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        # COSE_Key (RFC 9053): kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin,
                           "crossOrigin": False}).encode()

    def register(self, options: dict, *, origin: str, rp_id: str | None = None) -> dict:
        """navigator.credentials.create(): attestation "none" (fmt none, empty statement) with
        authenticator data carrying the attested credential data (AAGUID zero)."""
        rp_id = rp_id or options["rp"]["id"]
        flags = 0x01 | 0x40  # user present, attested credential data included
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
                     + struct.pack(">I", self.sign_count) + bytes(16)
                     + struct.pack(">H", len(self.credential_id)) + self.credential_id
                     + self.cose_public_key())
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
            "type": "public-key", "clientExtensionResults": {},
            "authenticatorAttachment": "cross-platform",
            "response": {
                "clientDataJSON": b64url(self.client_data("webauthn.create",
                                                          options["challenge"], origin)),
                "attestationObject": b64url(attestation), "transports": ["usb"]},
        }

    def assert_(self, options: dict, *, origin: str, rp_id: str | None = None,
                advance: int = 1, present: bool = True) -> dict:
        """navigator.credentials.get(): authenticator data (RP id hash, flags, counter) and an
        ECDSA signature over it followed by SHA-256 of clientDataJSON."""
        rp_id = rp_id or options["rpId"]
        self.sign_count += advance
        auth_data = (hashlib.sha256(rp_id.encode()).digest()
                     + bytes([0x01 if present else 0x00]) + struct.pack(">I", self.sign_count))
        client_data = self.client_data("webauthn.get", options["challenge"], origin)
        signature = self.private_key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                          ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
            "type": "public-key", "clientExtensionResults": {},
            "authenticatorAttachment": "cross-platform",
            "response": {"clientDataJSON": b64url(client_data),
                         "authenticatorData": b64url(auth_data), "signature": b64url(signature),
                         "userHandle": None},
        }


def totp_header(client) -> dict[str, str]:
    """For an API call that steps up (tests.conftest.ApiClient): a fresh code of the token
    owner's authenticator app (one is enrolled if they have none), as `call(...)` keywords."""
    from casefile.accounts.auth import token_lookup

    found = token_lookup(client.token)
    if found is None:  # no such token: the call is refused before any step-up
        return {}
    owner = found.user
    device = TOTPDevice.objects.filter(user=owner, confirmed=True).first() or enrol_totp(owner)
    return {"HTTP_X_CASEFILE_TOTP": fresh_totp_code(device)}
