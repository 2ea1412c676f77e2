"""Sign-in throttling by account and address pair, by address, and by account from unknown
places (`services.login_throttled`), through the real backend and the console's form."""

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory

from casefile.accounts import services
from casefile.accounts.models import KnownSignInSource, LoginFailure
from casefile.accounts.roles import Role
from casefile.core.timeutil import now
from tests.conftest import CommittingClient as Client
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_ADDRESS_LIMIT = 6
    settings.LOGIN_FAILURE_ACCOUNT_LIMIT = 10
    settings.TRUSTED_PROXIES = None
    # Argon2 is slow on purpose; these tests try many passwords and test counting, not hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def sign_in(email: str, password: str, ip: str, **meta):
    request = RequestFactory().post("/login/", REMOTE_ADDR=ip, **meta)
    return authenticate(request, username=email, password=password)


def fail(email: str, ip: str, times: int = 1):
    for _ in range(times):
        assert sign_in(email, "wrong password", ip) is None


def test_one_account_from_one_address_is_refused_after_the_pair_limit():
    make_staff(email="ann@example.com", password=PASSWORD)
    fail("ann@example.com", "192.0.2.1", 3)
    # Even the right password is refused there now …
    assert sign_in("ann@example.com", PASSWORD, "192.0.2.1") is None
    # … but the person still signs in from anywhere else, and others from that address do.
    assert sign_in("ANN@example.com", PASSWORD, "192.0.2.2") is not None
    make_staff(email="bob@example.com", password=PASSWORD)
    assert sign_in("bob@example.com", PASSWORD, "192.0.2.1") is not None


def test_refused_attempts_are_not_counted():
    make_staff(email="ann@example.com", password=PASSWORD)
    fail("ann@example.com", "192.0.2.1", 3)
    fail("ann@example.com", "192.0.2.1", 5)  # refused without trying a password
    assert LoginFailure.objects.count() == 3


def test_one_address_trying_many_accounts_is_refused_after_the_address_limit():
    make_staff(email="victim@example.com", password=PASSWORD)
    for i in range(6):  # spraying: each account only once, below every pair limit
        fail(f"user{i}@example.com", "198.51.100.7")
    assert sign_in("victim@example.com", PASSWORD, "198.51.100.7") is None
    assert sign_in("victim@example.com", PASSWORD, "198.51.100.8") is not None


def test_the_address_limit_counts_an_ipv6_host_by_its_64():
    make_staff(email="victim@example.com", password=PASSWORD)
    for i in range(6):  # a fresh address of the same /64 for every try
        fail(f"user{i}@example.com", f"2001:db8:1:2::{i + 1:x}")
    assert sign_in("victim@example.com", PASSWORD, "2001:db8:1:2:ffff::9") is None
    assert sign_in("victim@example.com", PASSWORD, "2001:db8:1:3::1") is not None


def test_many_addresses_against_one_account_are_refused_past_the_account_limit():
    make_staff(email="ann@example.com", password=PASSWORD)
    for i in range(10):  # a botnet: one try per address, below every other limit
        fail("ann@example.com", f"203.0.113.{i + 1}")
    assert sign_in("ann@example.com", PASSWORD, "203.0.113.200") is None


def test_the_account_limit_does_not_lock_the_person_out_of_a_place_they_use():
    ann = make_staff(email="ann@example.com", password=PASSWORD)
    assert sign_in("ann@example.com", PASSWORD, "192.0.2.50") is not None  # the office
    assert KnownSignInSource.objects.filter(user=ann, source="192.0.2.50").exists()
    for i in range(10):
        fail("ann@example.com", f"203.0.113.{i + 1}")
    assert sign_in("ann@example.com", PASSWORD, "203.0.113.200") is None  # elsewhere: refused
    assert sign_in("ann@example.com", PASSWORD, "192.0.2.50") is not None  # the office: in


def test_a_place_unseen_for_too_long_is_no_longer_known(settings):
    settings.LOGIN_KNOWN_ADDRESS_DAYS = 30
    make_staff(email="ann@example.com", password=PASSWORD)
    assert sign_in("ann@example.com", PASSWORD, "192.0.2.50") is not None
    KnownSignInSource.objects.update(last_seen_at=now() - timedelta(days=31))
    for i in range(10):
        fail("ann@example.com", f"203.0.113.{i + 1}")
    assert sign_in("ann@example.com", PASSWORD, "192.0.2.50") is None
    assert services.known_sign_in_sources_prune() == 1
    assert not KnownSignInSource.objects.exists()


def test_success_forgets_only_that_places_failures():
    make_staff(email="ann@example.com", password=PASSWORD)
    fail("ann@example.com", "192.0.2.1", 2)
    fail("ann@example.com", "203.0.113.9", 2)
    assert sign_in("ann@example.com", PASSWORD, "192.0.2.1") is not None
    assert list(LoginFailure.objects.values_list("ip_address", flat=True)) == [
        "203.0.113.9", "203.0.113.9"]
    fail("ann@example.com", "192.0.2.1", 2)  # a fresh count there
    assert sign_in("ann@example.com", PASSWORD, "192.0.2.1") is not None


def test_failures_expire_with_the_window(settings):
    make_staff(email="ann@example.com", password=PASSWORD)
    fail("ann@example.com", "192.0.2.1", 3)
    assert sign_in("ann@example.com", PASSWORD, "192.0.2.1") is None
    expired = now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1)
    LoginFailure.objects.update(at=expired)
    assert sign_in("ann@example.com", PASSWORD, "192.0.2.1") is not None


def test_unknown_accounts_count_too():
    make_staff(email="ann@example.com", password=PASSWORD)
    fail("nobody@example.com", "192.0.2.1", 3)
    assert LoginFailure.objects.filter(email="nobody@example.com").count() == 3
    assert sign_in("nobody@example.com", "whatever", "192.0.2.1") is None
    assert LoginFailure.objects.filter(email="nobody@example.com").count() == 3  # refused


def test_behind_a_trusted_proxy_each_client_has_its_own_count(limits):
    limits.TRUSTED_PROXIES = ["10.0.0.0/8"]
    make_staff(email="ann@example.com", password=PASSWORD)
    for _ in range(3):
        assert sign_in("ann@example.com", "wrong", "10.0.0.2",
                       HTTP_X_FORWARDED_FOR="198.51.100.1") is None
    assert list(LoginFailure.objects.values_list("ip_address", flat=True).distinct()) == [
        "198.51.100.1"]
    assert sign_in("ann@example.com", PASSWORD, "10.0.0.2",
                   HTTP_X_FORWARDED_FOR="198.51.100.1") is None
    # Another person at another client, through the same proxy, is not locked out.
    assert sign_in("ann@example.com", PASSWORD, "10.0.0.2",
                   HTTP_X_FORWARDED_FOR="198.51.100.2") is not None


def test_a_forged_header_from_an_untrusted_peer_does_not_escape_the_count(limits):
    limits.TRUSTED_PROXIES = ["10.0.0.0/8"]
    make_staff(email="ann@example.com", password=PASSWORD)
    for i in range(3):  # a new forged "client" every time, straight at us
        assert sign_in("ann@example.com", "wrong", "203.0.113.66",
                       HTTP_X_FORWARDED_FOR=f"198.51.100.{i}") is None
    assert set(LoginFailure.objects.values_list("ip_address", flat=True)) == {"203.0.113.66"}
    assert sign_in("ann@example.com", PASSWORD, "203.0.113.66",
                   HTTP_X_FORWARDED_FOR="198.51.100.99") is None


def test_without_trusted_proxies_the_header_is_ignored():
    make_staff(email="ann@example.com", password=PASSWORD)
    for i in range(3):
        assert sign_in("ann@example.com", "wrong", "192.0.2.1",
                       HTTP_X_FORWARDED_FOR=f"198.51.100.{i}") is None
    assert sign_in("ann@example.com", PASSWORD, "192.0.2.1") is None


def test_the_console_form_is_throttled_the_same_way():
    make_staff(Role.ANALYST, email="slow@example.com", password=PASSWORD)
    client = Client(REMOTE_ADDR="192.0.2.1")
    for _ in range(3):
        page = client.post("/login/", {"username": "slow@example.com", "password": "wrong"})
        assert "Wrong e-mail or password" in page.content.decode()
    refused = client.post("/login/", {"username": "slow@example.com", "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    elsewhere = Client(REMOTE_ADDR="192.0.2.2")
    signed_in = elsewhere.post("/login/", {"username": "slow@example.com", "password": PASSWORD})
    assert signed_in.status_code == 302 and "_auth_user_id" in elsewhere.session


@pytest.mark.parametrize("username", ["nul\x00@example.com", "x" * 300 + "@example.com"])
def test_malformed_sign_in_names_are_refused_not_errors(username):
    response = Client().post("/login/", {"username": username, "password": "x"})
    assert response.status_code == 200
    assert not LoginFailure.objects.filter(email__startswith="x" * 200).exists()


@pytest.mark.parametrize(("ip", "source"), [
    ("192.0.2.1", "192.0.2.1"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    (None, ""),
    ("garbage", ""),
])
def test_throttle_source(ip, source):
    assert services.throttle_source(ip) == source
