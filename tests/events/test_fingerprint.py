import io
import os
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from casefile.events import fingerprint as fingerprinting
from casefile.events.fingerprint import VARIABLE, fingerprint, template_of

LOGHUB = Path(__file__).resolve().parents[3] / "shared" / "data" / "loghub"


@pytest.mark.parametrize(("message", "template"), [
    ("took 153 ms", "took <*>"),
    ("retry 3 of 5", "retry <*> of <*>"),
    ("bad id 0xdeadbeef", "bad id <*>"),
    ("job 3f2a9c1e-8b7d-4c2e-9a1f-1234567890ab done", "job <*> done"),
    ("from 10.0.0.7:51234 closed", "from <*> closed"),
    ("mail to alice@example.com bounced", "mail to <*> bounced"),
    ("open /var/log/app.log failed", "open <*> failed"),
    ("GET https://example.com/a?b=1 ok", "GET <*> ok"),
    ("resolve db.internal.example failed", "resolve <*> failed"),
    ("at Sun Jul 10 03:55:21 2005", "at <*>"),
    ('set name "blue fox" ok', 'set name "blue fox" ok'),  # quoted words are words
    ("limits seats=5 plan=pro", "limits seats=<*> plan=pro"),  # a word value is a state
    ("limits seats=5 host=db1.internal", "limits seats=<*> host=<*>"),
    ("logname= uid=0", "logname= uid=<*>"),
    ("sent 403 bytes (0.39 KB), lifetime <1 sec", "sent <*>, lifetime <*>"),
    ("Invalid user oracle from 1.2.3.4", "Invalid user <*> from <*>"),
    ("session opened for user news by (uid=0)", "session opened for user <*> by (uid=<*>)"),
    ("block blk_-1608999687919862906 terminating", "block <*> terminating"),
    ("Connection reset by peer", "Connection reset by peer"),
])
def test_variable_parts_are_masked(message, template):
    assert template_of(message) == template


@pytest.mark.parametrize(("message", "template"), [
    # MAC addresses: one value, digits or not
    ("link 00:1a:2b:3c:4d:5e up", "link <*> up"),
    ("link aa:bb:cc:dd:ee:ff up", "link <*> up"),
    ("link 00-1A-2B-3C-4D-5E, up", "link <*>, up"),
    ("link AA-BB-CC-DD-EE-FF up", "link <*> up"),
    ("link AABB.CCDD.EEFF up", "link <*> up"),
    ("eui 02:00:5e:ff:fe:10:00:52 up", "eui <*> up"),
    # IPv6: full, compressed, zone, prefix, brackets and port
    ("nbr 2001:0db8:0000:0000:0000:ff00:0042:8329 up", "nbr <*> up"),
    ("nbr fe80::1ff:fe23:4567:890a up", "nbr <*> up"),
    ("nbr fe80::abcd up", "nbr <*> up"),
    ("nbr fe80::1%eth0 up", "nbr <*> up"),
    ("route 2001:db8::/32 added", "route <*> added"),
    ("nbr [2001:db8::1]:8080 up", "nbr <*> up"),
    ("nbr (::ffff:10.0.0.1) up", "nbr (<*>) up"),
    ("nbr ::1 up", "nbr <*> up"),
])
def test_hex_addresses_are_one_value(message, template):
    assert template_of(message) == template


@pytest.mark.parametrize("message", [
    "face added cafe deadbeef bead",  # words that merely look hex
    "call std::move then a::b",  # scopes, not compressed addresses
    "ratio be:ef and ab-cd",  # too few groups for a MAC
    "Connection closed by peer",
])
def test_words_that_look_hex_stay_words(message):
    assert template_of(message) == message


@pytest.mark.parametrize(("message", "template"), [
    ("delta -12 now", "delta <*> now"),
    ("delta +3.5 now", "delta <*> now"),
    ("took 250ms", "took <*>"),
    ("took 250 ms total", "took <*> total"),
    ("size 1.5GB free", "size <*> free"),
    ("cpu 10% busy", "cpu <*> busy"),
    ("cpu 10 % busy", "cpu <*> busy"),
    ("cpu 10 percent busy", "cpu <*> busy"),
    ("speed 3x faster", "speed <*> faster"),
    ("got 3 x 4 matrix", "got <*> matrix"),
    ("uptime 2 weeks", "uptime <*>"),
    ("temp -3.5°C high", "temp <*> high"),
    ("moved at 5 MiB/s", "moved at <*>"),
    ("version v1.2.3 ok", "version <*> ok"),  # versions vary between deploys: a value
    ("version 1.2.3-rc1 ok", "version <*> ok"),
])
def test_numbers_with_signs_and_units_are_one_value(message, template):
    assert template_of(message) == template


def test_a_word_after_a_value_that_is_not_a_unit_stays():
    assert template_of("retry 3 of 5 failed") == "retry <*> of <*> failed"
    assert template_of("copied 3 files") == "copied <*> files"


@pytest.mark.parametrize(("message", "template"), [
    ('"GET /api/users/123?x=1 HTTP/1.1" 200 512', '"GET <*> HTTP/<*>" <*>'),
    ('"DELETE /api/users/9 HTTP/2" 204 0', '"DELETE <*> HTTP/<*>" <*>'),
    ("GET /index.html HTTP/1.0", "GET <*> HTTP/<*>"),
    ('cmd "frobnicate 12" failed', 'cmd "frobnicate <*>" failed'),
    ("it's 'foo 12' and can't", "it's 'foo <*>' and can't"),  # apostrophes are not quotes
    ("open 'a.txt' failed", "open '<*>' failed"),
    ('msg="user 12 logged in" lvl=info', 'msg="user <*> logged in" lvl=info'),
    ('name="bob" ok', "name=<*> ok"),  # one quoted token after a key is still its value
    ("agent Mozilla/5.0 ok", "agent Mozilla/<*> ok"),
])
def test_quoted_text_is_masked_by_parts(message, template):
    assert template_of(message) == template


def test_request_method_is_part_of_the_template():
    get = fingerprint(message='"GET /a/1 HTTP/1.1" 200')[0]
    assert get == fingerprint(message='"GET /b/c?d=2 HTTP/1.0" 404')[0]
    assert get != fingerprint(message='"DELETE /a/1 HTTP/1.1" 200')[0]


def test_remembered_masks_give_the_same_answer_as_fresh_ones(monkeypatch):
    messages = ["took 5 ms", "link 00:1a:2b:3c:4d:5e up", '"GET /a HTTP/1.1"', "took 5 ms"]
    first = [template_of(m) for m in messages]
    monkeypatch.setattr(fingerprinting, "_MASKED_LIMIT", 2)  # cleared while in use
    fingerprinting._MASKED.clear()
    assert [template_of(m) for m in messages] == first
    assert len(fingerprinting._MASKED) <= 2


_WORDS = st.sampled_from(
    "user session opened closed for from by to failed ok GET POST HTTP/1.1 link up down "
    "face added cafe took size of ms KB % x ( ) [ ] , : = \" ' key= msg=".split())
_VALUES = st.one_of(
    st.integers(-10**12, 10**12).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: f"{f:.2f}"),
    st.sampled_from(["250ms", "1.5GB", "10%", "3x", "+3.5", "-12"]),
    st.uuids().map(str),
    st.ip_addresses().map(str),
    st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b)),
    st.from_regex(r"/[a-z]{1,6}(/[a-z0-9]{1,6}){0,3}", fullmatch=True),
    st.from_regex(r"0x[0-9a-f]{4,12}", fullmatch=True),
)
_MESSAGES = st.lists(st.one_of(_WORDS, _VALUES), min_size=1, max_size=12).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_MESSAGES, st.text(max_size=60)))
def test_masking_a_template_again_changes_nothing(message):
    template = template_of(message)
    assert template_of(template) == template


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, min_size=0, max_size=5), st.lists(_WORDS, min_size=0, max_size=5),
       _VALUES, _VALUES)
def test_messages_differing_only_in_a_value_share_a_template(before, after, one, other):
    head, tail = " ".join(["event", *before]), " ".join([*after, "done"])
    first, second = template_of(f"{head} {one} {tail}"), template_of(f"{head} {other} {tail}")
    assert first == second
    assert VARIABLE in first


def test_same_event_same_fingerprint_different_events_differ():
    a = fingerprint(message="user 17 logged in from 10.1.1.1")[0]
    b = fingerprint(message="user 4242 logged in from 192.168.0.9")[0]
    c = fingerprint(message="user 17 logged out from 10.1.1.1")[0]
    assert a == b != c
    assert len(a) == 32


def test_where_it_happened_is_part_of_the_fingerprint():
    base = fingerprint(message="disk full")[0]
    assert fingerprint(message="disk full", component="db")[0] != base
    assert fingerprint(message="disk full", service="api")[0] != base
    assert fingerprint(message="disk full", event_type="alert")[0] != base


def test_cli_prints_one_line_per_input_line_in_order(tmp_path, capsys):
    path = tmp_path / "messages.txt"
    path.write_text("took 5 ms\n\ntook 7 ms\nsomething else\n")
    call_command("fingerprint", str(path))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    keys = [line.split("\t")[0] for line in lines]
    assert keys[0] == keys[2] != keys[3]
    assert lines[0].split("\t")[1] == "took <*>"


def test_cli_reads_stdin_by_default(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a 1\na 2\n\xff bad\n")))
    call_command("fingerprint")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].split("\t")[0] == lines[1].split("\t")[0]


# Floors just under what bench/fingerprint.py measured through the issue level, so a
# regression fails here (the issue's aim is 0.95 on every set).
FLOORS = {"Apache": 0.99, "HDFS": 0.99, "HealthApp": 0.99, "Linux": 0.99, "OpenSSH": 0.99,
          "Proxifier": 0.98}


def loghub_or_skip() -> Path:
    """The samples, or a skip on a developer's machine without them. Under CI a missing data
    set is a failure: a skipped accuracy test would let a regression through unnoticed."""
    if LOGHUB.exists():
        return LOGHUB
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"Loghub samples not found at {LOGHUB} (CI must provide ../shared/data)")
    pytest.skip("Loghub samples not present")


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_loghub_grouping_accuracy(name):
    loghub = loghub_or_skip()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from fingerprint import grouping_accuracy, issues, load

    messages, truth = load(loghub, name)
    assert grouping_accuracy(issues(messages), truth) >= FLOORS[name]


def test_missing_loghub_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "LOGHUB", tmp_path / "absent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        loghub_or_skip()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        loghub_or_skip()
