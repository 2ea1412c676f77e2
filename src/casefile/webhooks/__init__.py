"""Vendor webhooks (DESIGN 9.3): `POST /api/v1/webhooks/{vendor}` for Persona, Onfido, Veriff and
Checkr, the append-only webhook log, and the application of verified deliveries to verification
cases (docs/webhooks.md). The vendors' signatures and payloads are `casefile.trust.vendors`."""
