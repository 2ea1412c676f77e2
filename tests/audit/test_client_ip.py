"""The client's address behind reverse proxies: believed only as far as our own proxies wrote
X-Forwarded-For (`TRUSTED_PROXIES`), and recorded so in audit entries."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor, client_ip
from casefile.audit.models import AuditEntry
from tests.conftest import ApiClient, make_staff, token_for


def request(peer: str | None, forwarded: str | None = None):
    meta = {}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    req = RequestFactory().get("/", **meta)
    if peer is None:
        del req.META["REMOTE_ADDR"]
    else:
        req.META["REMOTE_ADDR"] = peer
    return req


@pytest.mark.parametrize(("trusted", "peer", "forwarded", "expected"), [
    # Nothing trusted (the default): the socket peer, whatever the header says.
    (None, "203.0.113.9", "198.51.100.1", "203.0.113.9"),
    ([], "203.0.113.9", "198.51.100.1", "203.0.113.9"),
    # One proxy in front (nginx appending its peer): the header's last address.
    (1, "10.0.0.2", "198.51.100.1", "198.51.100.1"),
    (1, "10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client's own prefix
    # Two proxies (a load balancer, then nginx): the second address from the right.
    (2, "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.1", "198.51.100.1"),
    (2, "10.0.0.2", "198.51.100.1", "10.0.0.2"),  # a shorter chain did not pass them all
    (1, "10.0.0.2", None, "10.0.0.2"),  # no header: the peer (e.g. a health check)
    # Proxies by network: the right-most address that is not one of ours.
    (["10.0.0.0/8"], "10.0.0.2", "198.51.100.1", "198.51.100.1"),
    (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.1.2.3", "198.51.100.1"),
    (["10.0.0.0/8", "192.0.2.10"], "192.0.2.10", "198.51.100.1:4711, 10.9.9.9",
     "198.51.100.1"),
    (["10.0.0.0/8"], "10.0.0.2", "10.3.3.3", "10.3.3.3"),  # an internal client
    (["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
    (["10.0.0.0/8"], "10.0.0.2", "not an address", "10.0.0.2"),
    (["2001:db8:ffff::/48"], "2001:db8:ffff::1", "[2001:db8:1::7]:443",
     "2001:db8:1::7"),
    (["10.0.0.0/8"], "::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1"),
    # Spoofing: a peer that is not one of our proxies is the client, whatever it claims.
    (["10.0.0.0/8"], "203.0.113.66", "198.51.100.1", "203.0.113.66"),
    (["10.0.0.0/8"], "203.0.113.66", "198.51.100.1, 10.0.0.5", "203.0.113.66"),
    (None, None, "198.51.100.1", None),
])
def test_client_ip(settings, trusted, peer, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    assert client_ip(request(peer, forwarded)) == expected


def test_trusted_proxies_read_from_the_environment_form(settings):
    settings.TRUSTED_PROXIES = "10.0.0.0/8, 192.0.2.10"  # as a string, too
    assert client_ip(request("192.0.2.10", "198.51.100.1")) == "198.51.100.1"
    assert client_ip(request("192.0.2.11", "198.51.100.1")) == "192.0.2.11"


@pytest.mark.parametrize("bad", [["10.0.0.0/33"], ["proxy.internal"], 0])
def test_misconfigured_proxies_fail_loudly(settings, bad):
    settings.TRUSTED_PROXIES = bad
    with pytest.raises(ImproperlyConfigured):
        client_ip(request("10.0.0.2", "198.51.100.1"))


def test_actor_carries_the_client_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    actor = Actor.staff(None, request=request("10.0.0.2", "198.51.100.1"))  # type: ignore[arg-type]
    assert actor.ip_address == "198.51.100.1"


@pytest.mark.django_db
@pytest.mark.parametrize(("peer", "recorded"), [
    ("10.0.0.2", "198.51.100.1"),  # through our proxy: the client
    ("203.0.113.66", "203.0.113.66"),  # straight at us with a forged header: the peer
])
def test_audit_entries_record_the_client_behind_a_trusted_proxy(settings, peer, recorded):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client = ApiClient(token_for(make_staff(Role.ANALYST)))
    response = client.call("POST", "/api/v1/tokens",
                           {"name": "laptop", "reason_code": "ACCOUNT_PROVISIONING"},
                           REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert response.status_code == 201, response.content
    entry = AuditEntry.objects.get(action="API_TOKEN_CREATED", actor_user_id__isnull=False)
    assert entry.ip_address == recorded
