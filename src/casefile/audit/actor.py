"""Who is acting: a member of staff (with the request they came through) or Casefile itself."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from ipware import get_client_ip
from python_ipware.modern.parsers import split_proxy_chain, unwrap_ipv4, unwrap_ipv4_network

from casefile.accounts.permissions import Perm, require
from casefile.accounts.roles import is_machine
from casefile.audit.registry import check_reason_code

if TYPE_CHECKING:
    from ipaddress import IPv4Network, IPv6Network

    from django.http import HttpRequest

    from casefile.accounts.models import StaffUser

SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Actor:
    user: StaffUser | None
    ip_address: str | None = None
    user_agent: str = ""
    # Extra context written into every audit entry's metadata (e.g. the CLI, an impersonation id).
    context: dict[str, Any] = field(default_factory=dict)
    # The request a member of staff acts through (never recorded): what proves a recent second
    # factor for step-up (accounts.stepup). None in-process (the demo loader, a shell).
    request: HttpRequest | None = field(default=None, compare=False, repr=False)

    @classmethod
    def staff(cls, user: StaffUser, *, request: HttpRequest | None = None, **context) -> Actor:
        # Who the company's IdP says this is, in every entry (TD-490's "oidc subject").
        if getattr(user, "oidc_subject", ""):
            context = {"oidc": {"iss": user.oidc_issuer, "sub": user.oidc_subject}, **context}
        if request is None:
            return cls(user=user, context=context)
        return cls(
            user=user,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
            context=context,
            request=request,
        )

    @classmethod
    def system(cls, via: str, **context) -> Actor:
        return cls(user=None, context={"via": via, **context})

    @property
    def is_system(self) -> bool:
        return self.user is None

    @property
    def staff_user(self) -> StaffUser:
        """The acting member of staff, for code that only staff reach (the API)."""
        if self.user is None:
            raise TypeError("Casefile itself is acting, not a member of staff")
        return self.user

    @property
    def roles(self):
        return frozenset() if self.user is None else self.user.roles

    @property
    def is_machine(self) -> bool:
        """Casefile itself, the operator's CLI, or a machine identity (ingest, platform sync):
        they record the system reason the registry declares for the action, not one of theirs."""
        return self.user is None or is_machine(self.user.roles)

    def reason(self, reason_code: str | None) -> str | None:
        """The reason to record: a person must name a known one (422 before anything changes);
        a machine names none."""
        return reason_code if self.is_machine else check_reason_code(reason_code)

    def require(self, perm: Perm) -> None:
        """Casefile's own jobs and the operator's CLI run with the host's authority."""
        if self.user is not None:
            require(self.user.roles, perm)

    def snapshot(self) -> dict[str, Any]:
        """The actor columns of an audit entry, as they are at this moment."""
        if self.user is None:
            return {"actor_user_id": None, "actor_email": None, "actor_role": SYSTEM_ROLE}
        return {
            "actor_user_id": self.user.id,
            "actor_email": self.user.email,
            "actor_role": self.user.role_label,
        }


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client behind any trusted reverse proxies (see `TRUSTED_PROXIES`).

    X-Forwarded-For is written by whoever sends the request, so it is believed only as far as
    the proxies we run wrote it:

    - no trusted proxies (the default): REMOTE_ADDR, the socket peer; X-Forwarded-For is ignored;
    - a proxy count N (every request passes through N proxies, each appending its peer): the
      Nth address from the right of X-Forwarded-For, whatever a client put to its left;
    - addresses/networks of the proxies: only when the peer is one of them, the right-most
      address of X-Forwarded-For that is not one of them. A peer outside them is the client
      itself, whatever header it sends.

    django-ipware parses the header (ports, brackets, RFC 7239 forms, IPv4-mapped addresses)
    and picks the hop; a request without a usable header falls back to the peer.
    """
    peer = normalise_ip(request.META.get("REMOTE_ADDR"))
    trusted = trusted_proxies()
    if trusted is None:
        return peer
    chain = split_proxy_chain(request.META.get("HTTP_X_FORWARDED_FOR", "")) or []
    if isinstance(trusted, int):
        hops = trusted - 1  # the last proxy is the peer; the others are in the header
    else:
        if peer is None or not _is_trusted(ipaddress.ip_address(peer), trusted):
            return peer
        hops = 0
        while hops < len(chain) and _is_trusted(chain[-1 - hops], trusted):
            hops += 1
        if chain and hops == len(chain):  # every hop is ours: an internal client
            return normalise_ip(str(chain[0]))
    if not chain or hops < 0:
        return peer
    found, _routable = get_client_ip(request, proxy_count=hops, strict=False,
                                     request_header_order=["HTTP_X_FORWARDED_FOR"])
    return normalise_ip(found) or peer


def trusted_proxies() -> int | tuple[IPv4Network | IPv6Network, ...] | None:
    """`settings.TRUSTED_PROXIES` compiled: a proxy count, proxy networks, or None."""
    return _compile_trusted(_setting_key(getattr(settings, "TRUSTED_PROXIES", None)))


def _setting_key(value) -> int | tuple[str, ...] | None:
    if value in (None, "", [], ()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = [v for v in value.replace(" ", ",").split(",") if v]
    return tuple(str(v).strip() for v in value)


@functools.lru_cache(maxsize=8)
def _compile_trusted(key: int | tuple[str, ...] | None):
    if key is None:
        return None
    if isinstance(key, int):
        if key < 1:
            raise ImproperlyConfigured("TRUSTED_PROXIES: a proxy count is 1 or more")
        return key
    try:
        return tuple(unwrap_ipv4_network(ipaddress.ip_network(v, strict=False)) for v in key)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from None


def _is_trusted(ip, networks) -> bool:
    ip = unwrap_ipv4(ip)
    return any(ip.version == net.version and ip in net for net in networks)


def normalise_ip(raw: str | None) -> str | None:
    """The canonical text of an address (IPv4-mapped IPv6 as IPv4), or None if it is not one."""
    if not raw:
        return None
    try:
        return unwrap_ipv4(ipaddress.ip_address(raw.strip())).compressed
    except ValueError:
        return None
