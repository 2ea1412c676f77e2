"""Where each vendor's webhook body holds personal data: the evidence vault's PII map (JSON
pointers) for the raw body, so its redacted copy hides them (DESIGN 9.2).

Only pointers that resolve in the body at hand are listed (the vault refuses a pointer that does
not), and only where the value is not null. Vendors add fields over time: an unknown field is
kept unredacted in the redacted copy, which is why the original stays the only full copy, read
only with its permission and a reason.
"""

from __future__ import annotations

from typing import Any

# kind by field name, for the flat attribute objects each vendor sends.
_PERSONA_FIELDS = {
    "name-first": "name", "name-middle": "name", "name-last": "name", "name-full": "name",
    "birthdate": "dob", "email-address": "email", "phone-number": "phone",
    "address-street-1": "address", "address-street-2": "address", "address-city": "address",
    "address-subdivision": "address", "address-postal-code": "address",
    "identification-number": "id_number", "social-security-number": "id_number",
    "selfie-photo": "face", "front-photo-url": "face", "selfie-photo-url": "face",
    "center-photo-url": "face", "left-photo-url": "face", "right-photo-url": "face",
    "ip-address": "other",
}
_VERIFF_PERSON = {"firstName": "name", "lastName": "name", "fullName": "name",
                  "dateOfBirth": "dob", "idNumber": "id_number", "placeOfBirth": "address",
                  "address": "address"}
_CHECKR_FIELDS = {"first_name": "name", "middle_name": "name", "last_name": "name",
                  "email": "email", "phone": "phone", "dob": "dob", "ssn": "id_number",
                  "driver_license_number": "id_number", "zipcode": "address",
                  "custom_id": "other"}


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(*tokens: str | int) -> str:
    return "".join("/" + _escape(str(t)) for t in tokens)


def _fields(obj: Any, table: dict[str, str], *prefix: str | int) -> list[dict[str, Any]]:
    """Entries for each key of `obj` named in `table` whose value is not null."""
    if not isinstance(obj, dict):
        return []
    return [{"kind": kind, "locator": _pointer(*prefix, key)}
            for key, kind in table.items() if obj.get(key) is not None]


def _persona(body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    payload = body.get("data", {}).get("attributes", {}).get("payload", {})
    if not isinstance(payload, dict):
        return found
    base = ("data", "attributes", "payload")
    resources: list[tuple[Any, tuple[str | int, ...]]] = [(payload.get("data"), (*base, "data"))]
    included = payload.get("included")
    if isinstance(included, list):
        resources += [(item, (*base, "included", i)) for i, item in enumerate(included)]
    for resource, path in resources:
        if not isinstance(resource, dict) or not isinstance(resource.get("attributes"), dict):
            continue
        attributes = resource["attributes"]
        found += _fields(attributes, _PERSONA_FIELDS, *path, "attributes")
        fields = attributes.get("fields")
        if isinstance(fields, dict):
            for name, kind in _PERSONA_FIELDS.items():
                field = fields.get(name)
                if isinstance(field, dict) and field.get("value") is not None:
                    found.append({"kind": kind, "locator": _pointer(
                        *path, "attributes", "fields", name, "value")})
    return found


def _veriff(body: dict[str, Any]) -> list[dict[str, Any]]:
    verification = body.get("verification")
    found: list[dict[str, Any]] = []
    if isinstance(verification, dict):
        found += _fields(verification.get("person"), _VERIFF_PERSON, "verification", "person")
        document = verification.get("document")
        if isinstance(document, dict) and document.get("number") is not None:
            found.append({"kind": "id_number", "locator": "/verification/document/number"})
    technical = body.get("technicalData")
    if isinstance(technical, dict) and technical.get("ip") is not None:
        found.append({"kind": "other", "locator": "/technicalData/ip"})
    return found


def _checkr(body: dict[str, Any]) -> list[dict[str, Any]]:
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    return _fields(obj, _CHECKR_FIELDS, "data", "object")


def _onfido(body: dict[str, Any]) -> list[dict[str, Any]]:
    # An Onfido webhook names the check or run and links to it: no personal data.
    return []


_BY_VENDOR = {"persona": _persona, "veriff": _veriff, "checkr": _checkr, "onfido": _onfido}


def pii_map(vendor: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The PII map of a verified, parsed body of `vendor`."""
    return _BY_VENDOR.get(vendor, lambda body: [])(body)
