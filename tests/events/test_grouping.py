"""The rules that merge templates into issues (events.grouping), in memory."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from casefile.events.fingerprint import fingerprint
from casefile.events.grouping import VARYING, Grouping, MemoryStore, Source, pattern, place

NAMES = ["root", "uucp", "ftp", "git", "mysql", "sshd", "admin", "guest"]


def partition(grouping: Grouping, fingerprints) -> set[frozenset[str]]:
    by_issue: dict[str, set[str]] = {}
    for fp in fingerprints:
        by_issue.setdefault(grouping.issue(fp), set()).add(fp)
    return {frozenset(members) for members in by_issue.values()}


def test_a_position_that_held_enough_words_is_a_variable():
    grouping = Grouping()
    fps = [grouping.add(f"Failed password for {name} from 10.0.0.{i} port 22 ssh2")
           for i, name in enumerate(NAMES[:VARYING])]
    assert len({grouping.issue(fp) for fp in fps}) == 1
    issue = grouping.issue(fps[0])
    assert grouping.store.titles[issue] == "Failed password for <*> from <*> port <*>"


def test_fewer_words_are_an_enumeration_kept_apart():
    grouping = Grouping()
    fps = [grouping.add(f"session closed for account state {word}")
           for word in ("active", "locked", "expired")]
    assert len({grouping.issue(fp) for fp in fps}) == 3


def test_a_key_word_value_varies_like_a_word():
    grouping = Grouping()
    few = [grouping.add(f"auth failure; rhost=10.0.0.1 user={name}") for name in NAMES[:3]]
    assert len({grouping.issue(fp) for fp in few}) == 3
    more = grouping.add(f"auth failure; rhost=10.0.0.1 user={NAMES[3]}")
    # The fourth word makes the position a variable: all four are one issue now, including
    # the three that came before it (incremental).
    assert len({grouping.issue(fp) for fp in [*few, more]}) == 1
    assert grouping.store.titles[grouping.issue(more)] == "auth failure; rhost=<*> user=<*>"


def test_the_first_word_never_varies():
    grouping = Grouping()
    fps = [grouping.add(f"{daemon} startup succeeded")
           for daemon in ("cupsd", "klogd", "syslogd", "portmap", "irqbalance", "sshd")]
    assert len({grouping.issue(fp) for fp in fps}) == len(fps)


def test_sources_are_never_merged():
    grouping = Grouping()
    fps = [grouping.add(f"removing {name}", Source(service=f"svc{i}"))
           for i, name in enumerate(NAMES)]
    assert len({grouping.issue(fp) for fp in fps}) == len(fps)


def test_a_masked_value_counts_as_one_more_word():
    grouping = Grouping()
    fps = [grouping.add(f"removing {name} now") for name in ("echo", "telnet", "daytime")]
    fps.append(grouping.add("removing echo-udp2 now"))  # masked: <*>
    assert len({grouping.issue(fp) for fp in fps}) == 1


def test_a_senders_own_fingerprint_is_never_merged():
    store = MemoryStore()
    for i, name in enumerate(NAMES):
        template = f"removing {name} now"
        place(store, fingerprint=f"client-{i}", source=Source(), template=template,
              mergeable=False)
    assert len(set(store.issue_of.values())) == len(NAMES)


MESSAGES = ([f"Failed password for {n} from 10.0.0.1 port 22 ssh2" for n in NAMES]
            + [f"Disconnecting: too many failures for {n} [preauth]" for n in NAMES[:3]]
            + [f"removing {n} service" for n in ("echo", "telnet", "chargen", "time", "discard")]
            + [f"auth failure user={n}" for n in NAMES[:5]]
            + [f"{d} startup succeeded" for d in ("cupsd", "klogd", "syslogd", "portmap")]
            + ["Accepted publickey for git from 10.0.0.2", "Connection closed by 10.0.0.3"])


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_same_templates_in_any_order_give_the_same_issues(rnd):
    reference = Grouping()
    fps = [reference.add(m) for m in MESSAGES]
    shuffled = list(MESSAGES)
    rnd.shuffle(shuffled)
    other = Grouping()
    for message in shuffled:
        other.add(message)
    assert partition(other, fps) == partition(reference, fps)


def test_seeing_a_template_again_changes_nothing():
    grouping = Grouping()
    fps = [grouping.add(m) for m in MESSAGES]
    before = partition(grouping, fps), dict(grouping.store.titles)
    for message in random.Random(7).sample(MESSAGES, len(MESSAGES)):
        grouping.add(message)
    assert (partition(grouping, fps), dict(grouping.store.titles)) == before


def test_a_split_survives_new_templates():
    grouping = Grouping()
    fps = [grouping.add(f"Failed password for {n} from 10.0.0.1 port 22") for n in NAMES[:4]]
    issue = grouping.issue(fps[0])
    split = grouping.store.split(issue, {fps[0]})
    # A new user name relates to both halves: it joins the older one and merges nothing.
    late = grouping.add(f"Failed password for {NAMES[6]} from 10.0.0.1 port 22")
    assert grouping.issue(fps[0]) == split
    assert {grouping.issue(fp) for fp in fps[1:]} == {issue}
    assert grouping.issue(late) == min(issue, split)


def test_pattern_keeps_a_shared_frame():
    assert pattern("a user=root b", "a user=ftp b") == "a user=<*> b"
    assert pattern("a (root) b", "a x b") == "a <*> b"
    assert pattern("a b", "a b c") == "a b"  # different lengths (staff merged): the first


def test_fingerprints_in_the_grouping_are_ingests():
    grouping = Grouping()
    message = "Failed password for root from 10.0.0.1 port 22 ssh2"
    assert grouping.add(message) == fingerprint(message=message)[0]
