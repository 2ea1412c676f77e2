"""Which e-signature providers exist and how each is built from settings.

`settings.ESIGN_PROVIDERS` maps a provider name to its configuration (docs/documents.md,
"E-signature providers"):

    {"docusign":     {"base_url": "https://demo.docusign.net/restapi", "account_id": "…",
                      "access_token": "…", "webhook_secrets": ["connect key 1", "key 2"]},
     "dropbox_sign": {"base_url": "https://api.hellosign.com/v3", "api_key": "…",
                      "webhook_secrets": ["…"]},          # default: [api_key]
     "docuseal":     {"base_url": "https://api.docuseal.com", "api_key": "…",
                      "webhook_secrets": ["…"]}}

A vendor provider is available only when configured: asking for one that is not gives NotFound
(no envelope is ever sent to a half-configured vendor); a configuration missing a field gives
ValidationFailed naming it. `local` (the built-in provider, no vendor account) is always
available: its module calls `register("local", factory)` when the documents app is ready, and
its factory gets `ESIGN_PROVIDERS.get("local", {})`.

A factory takes the configuration mapping and returns a `Provider`. Providers are built per
call (they are cheap and hold no connection), so a settings change applies at once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

from casefile.core.errors import NotFound, ValidationFailed
from casefile.documents.esign.base import Provider

Factory = Callable[[Mapping[str, Any]], Provider]

# The vendor adapters, imported when first asked for: "module:callable".
_BUILTIN: dict[str, str] = {
    "docusign": "casefile.documents.esign.docusign:DocuSign.from_config",
    "dropbox_sign": "casefile.documents.esign.dropbox_sign:DropboxSign.from_config",
    "docuseal": "casefile.documents.esign.docuseal:DocuSeal.from_config",
}
# Providers that need no entry in ESIGN_PROVIDERS to exist.
_ALWAYS = frozenset({"local"})

_registered: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Make `name` available (the `local` provider registers itself this way). Registering a
    name again replaces its factory, so an app reloaded in tests does not fail."""
    _registered[name] = factory


def _builtin(name: str) -> Factory:
    module_name, _, attr = _BUILTIN[name].partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    factory: Factory = target
    return factory


def configured() -> dict[str, Mapping[str, Any]]:
    providers = getattr(settings, "ESIGN_PROVIDERS", None) or {}
    if not isinstance(providers, Mapping):
        raise ValidationFailed("ESIGN_PROVIDERS must be a JSON object of name → configuration")
    return dict(providers)


def names() -> list[str]:
    """The providers that can be used now: those configured, and those always present."""
    known = set(_BUILTIN) | set(_registered)
    available = {n for n in configured() if n in known} | {n for n in _ALWAYS if n in known}
    return sorted(available)


def provider_named(name: str) -> Provider:
    if name in _registered:
        factory = _registered[name]
    elif name in _BUILTIN:
        factory = _builtin(name)
    else:
        raise NotFound(f"unknown e-sign provider {name!r}", details={"provider": name})
    providers = configured()
    if name not in providers and name not in _ALWAYS:
        raise NotFound(f"e-sign provider {name!r} is not configured (ESIGN_PROVIDERS)",
                       details={"provider": name})
    config = providers.get(name) or {}
    if not isinstance(config, Mapping):
        raise ValidationFailed(f"ESIGN_PROVIDERS[{name!r}] must be an object",
                               details={"provider": name})
    return factory(config)
