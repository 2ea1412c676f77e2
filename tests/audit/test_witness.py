"""Witnesses: a second object store that remembers every checkpoint, and an HTTP witness that
checks the consistency proof before it countersigns (the reference witness, on 127.0.0.1)."""

import hashlib
import socket

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from casefile.audit import merkle, notes
from casefile.audit.witness import (
    WITNESS_PREFIX,
    ReferenceWitness,
    countersignature_valid,
    encode_proof,
    read_witnesses,
    serve_witness,
    witness_checkpoint,
    witness_key,
    witness_newest,
)

LOG_KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()


def _leaves(n: int, tag: bytes = b"genuine") -> list[bytes]:
    return [merkle.entry_leaf(hashlib.sha256(tag + str(i).encode()).hexdigest())
            for i in range(n)]


class Log:
    """A log's history as the witness sees it: signed checkpoints and consistency proofs."""

    def __init__(self, leaves: list[bytes], key: Ed25519PrivateKey = LOG_KEY):
        self.leaves = leaves
        self.key = key

    def root(self, size: int) -> bytes:
        return merkle.root_of(self.leaves[:size])

    def checkpoint(self, size: int) -> dict:
        root = self.root(size)
        note = notes.sign(notes.body(size, root), lambda b: self.key.sign(b).hex(),
                          self.key.public_key())
        return {"seq": size, "hash": self.leaves[size - 1].hex(), "created_at": "x",
                "tree_size": size, "root_hash": root.hex(), "note": note}

    def proof(self, first: int, second: int) -> list[str]:
        return encode_proof(merkle.consistency_proof(
            first, second, merkle.list_subtree(self.leaves[:second])))


GENUINE = Log(_leaves(40))


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


@pytest.fixture
def http_witness():
    """The reference witness, serving on a free port of 127.0.0.1 for one test."""
    witness = ReferenceWitness([LOG_KEY.public_key()], Ed25519PrivateKey.generate())
    server = serve_witness(witness)
    witness.url = f"http://127.0.0.1:{server.server_address[1]}/casefile"
    yield witness
    server.shutdown()
    server.server_close()


def _ship(url: str, log: Log, size: int, previous: int | None, **kwargs):
    [result] = witness_checkpoint(
        log.checkpoint(size), previous=log.checkpoint(previous) if previous else None,
        proof=log.proof(previous, size) if previous else None, urls=[url], **kwargs)
    return result


# --- HTTP witness ------------------------------------------------------------------------------

def test_http_witness_countersigns_a_consistent_history(http_witness):
    first = _ship(http_witness.url, GENUINE, 5, None)
    assert first.ok and first.error is None
    assert countersignature_valid(GENUINE.checkpoint(5), first.countersignature,
                                  [http_witness.key.public_key()])
    assert not countersignature_valid(GENUINE.checkpoint(6), first.countersignature,
                                      [http_witness.key.public_key()])
    assert not countersignature_valid(GENUINE.checkpoint(5), first.countersignature,
                                      [OTHER_KEY.public_key()])
    for previous, size in [(5, 8), (8, 16), (16, 17), (17, 40)]:
        result = _ship(http_witness.url, GENUINE, size, previous)
        assert result.ok, result.error
    assert witness_newest([http_witness.url]) == [(http_witness.url, GENUINE.checkpoint(40))]


def test_the_countersigned_note_verifies_as_a_note_signed_by_log_and_witness(http_witness):
    result = _ship(http_witness.url, GENUINE, 3, None)
    cosigned = notes.parse(GENUINE.checkpoint(3)["note"] + result.countersignature)
    assert len(cosigned.signatures) == 2
    assert notes.signed_by(cosigned, [http_witness.key.public_key()])
    assert notes.open_note(GENUINE.checkpoint(3)["note"] + result.countersignature,
                           [LOG_KEY.public_key()]).size == 3


def test_http_witness_refuses_an_inconsistent_checkpoint(http_witness):
    assert _ship(http_witness.url, GENUINE, 6, None).ok
    # The operator rewrites entry 3 and re-signs with the genuine key: the new tree of size 10
    # does not extend the one of size 6 the witness holds, whatever proof comes with it.
    forged = Log([*GENUINE.leaves[:2], *_leaves(38, b"forged")])
    refused = witness_checkpoint(forged.checkpoint(10), previous=GENUINE.checkpoint(6),
                                 proof=forged.proof(6, 10), urls=[http_witness.url])[0]
    assert not refused.ok and "HTTP 422" in refused.error and "not consistent" in refused.error
    assert refused.countersignature is None
    # Nor does a genuine proof from a different tree help.
    refused = witness_checkpoint(forged.checkpoint(10), previous=GENUINE.checkpoint(6),
                                 proof=GENUINE.proof(6, 10), urls=[http_witness.url])[0]
    assert not refused.ok and "HTTP 422" in refused.error
    assert http_witness.held == GENUINE.checkpoint(6)
    # The genuine continuation is still taken.
    assert _ship(http_witness.url, GENUINE, 10, 6).ok


def test_http_witness_refuses_a_second_tree_of_the_same_size(http_witness):
    assert _ship(http_witness.url, GENUINE, 6, None).ok
    forked = Log(_leaves(6, b"fork"))
    result = witness_checkpoint(forked.checkpoint(6), previous=GENUINE.checkpoint(6), proof=[],
                                urls=[http_witness.url])[0]
    assert not result.ok and "forked" in result.error
    # The same checkpoint again (a retried ship) is countersigned again.
    assert _ship(http_witness.url, GENUINE, 6, None).ok


def test_http_witness_refuses_a_checkpoint_the_log_did_not_sign(http_witness):
    stolen = Log(GENUINE.leaves, key=OTHER_KEY)
    result = _ship(http_witness.url, stolen, 4, None)
    assert not result.ok and "HTTP 403" in result.error
    assert http_witness.held is None


def test_http_witness_refuses_going_back(http_witness):
    assert _ship(http_witness.url, GENUINE, 9, None).ok
    result = _ship(http_witness.url, GENUINE, 4, None)
    assert not result.ok and "HTTP 409" in result.error
    assert result.held == GENUINE.checkpoint(9)


def test_a_witness_that_missed_checkpoints_catches_up_with_a_proof_from_what_it_holds(
        http_witness):
    assert _ship(http_witness.url, GENUINE, 4, None).ok
    # Checkpoint 12 never reached the witness; shipping offers 20 with a proof from 12.
    behind = _ship(http_witness.url, GENUINE, 20, 12)
    assert not behind.ok and "HTTP 409" in behind.error
    assert behind.held == GENUINE.checkpoint(4)
    asked = []

    def proof_from(size: int) -> list[str]:
        asked.append(size)
        return GENUINE.proof(size, 20)

    caught_up = _ship(http_witness.url, GENUINE, 20, 12, proof_from=proof_from)
    assert caught_up.ok and asked == [4]
    assert http_witness.held == GENUINE.checkpoint(20)


def test_a_witness_that_is_down_is_reported_not_raised(http_witness):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    down = f"http://127.0.0.1:{closed_port}/casefile"
    results = witness_checkpoint(GENUINE.checkpoint(3), previous=None, proof=None,
                                 urls=[down, http_witness.url])
    assert [r.ok for r in results] == [False, True]
    assert results[0].url == down and "URLError" in results[0].error
    reads = read_witnesses([down, http_witness.url])
    assert reads[0].checkpoint is None and reads[0].error
    assert reads[1].checkpoint == GENUINE.checkpoint(3) and reads[1].error is None
    assert witness_newest([down]) == [(down, None)]


def test_a_witness_holding_nothing_reads_as_none(http_witness):
    [read] = read_witnesses([http_witness.url])
    assert (read.checkpoint, read.error) == (None, None)


def test_a_pinned_witness_key_checks_the_countersignature(http_witness):
    from base64 import b64encode

    good = f"{http_witness.url}#ed25519={b64encode(_raw_public(http_witness.key)).decode()}"
    bad = f"{http_witness.url}#ed25519={b64encode(_raw_public(OTHER_KEY)).decode()}"
    assert _ship(good, GENUINE, 2, None).ok
    result = _ship(bad, GENUINE, 3, 2)
    assert not result.ok and "pinned" in result.error
    assert result.url == http_witness.url  # the key is not repeated in reports


def test_the_consistency_check_is_injected_with_the_held_and_new_trees():
    calls = []

    def refuse(first, second, first_root, second_root, proof):
        calls.append((first, second, first_root, second_root, list(proof)))
        return False

    witness = ReferenceWitness([LOG_KEY.public_key()], Ed25519PrivateKey.generate(),
                               verify_consistency=refuse)
    assert witness.add_checkpoint({"checkpoint": GENUINE.checkpoint(3)})[0] == 200
    status, answer = witness.add_checkpoint({"checkpoint": GENUINE.checkpoint(7),
                                             "previous": GENUINE.checkpoint(3),
                                             "proof": GENUINE.proof(3, 7)})
    assert status == 422
    assert calls == [(3, 7, GENUINE.root(3), GENUINE.root(7),
                      merkle.consistency_proof(3, 7, merkle.list_subtree(GENUINE.leaves[:7])))]


@pytest.mark.parametrize("body", [None, [], {"checkpoint": "x"},
                                  {"checkpoint": GENUINE.checkpoint(2), "proof": ["not b64!"]},
                                  {"checkpoint": GENUINE.checkpoint(2), "proof": ["AAAA"]}])
def test_the_reference_witness_refuses_malformed_requests(body):
    witness = ReferenceWitness([LOG_KEY.public_key()], Ed25519PrivateKey.generate())
    status, _ = witness.add_checkpoint(body)
    assert status == 400 and witness.held is None


# --- Object-store witness ----------------------------------------------------------------------

def test_store_witness_keeps_every_checkpoint_under_retention(tmp_path):
    url = f"file://{tmp_path / 'witness'}"
    for size in (4, 11):
        [result] = witness_checkpoint(GENUINE.checkpoint(size), previous=None, proof=None,
                                      urls=[url])
        assert result.ok and result.countersignature is None
    from casefile.storage import store_for_url

    store = store_for_url(url)
    assert list(store.list(WITNESS_PREFIX)) == [
        witness_key(4), witness_key(4).replace(".json", ".note"),
        witness_key(11), witness_key(11).replace(".json", ".note")]
    assert witness_key(11) == "audit/witness/checkpoints/000000000011.json"
    assert orjson.loads(store.get(witness_key(11))) == GENUINE.checkpoint(11)
    assert store.get(witness_key(11).replace(".json", ".note")).decode() == \
        GENUINE.checkpoint(11)["note"]
    assert store.head(witness_key(4)).retain_until is not None
    assert witness_newest([url]) == [(url, GENUINE.checkpoint(11))]


def test_store_witness_takes_a_retry_and_refuses_a_fork(tmp_path):
    url = f"file://{tmp_path / 'witness'}"
    assert all(r.ok for r in witness_checkpoint(GENUINE.checkpoint(6), previous=None,
                                                proof=None, urls=[url, url]))
    forked = Log(_leaves(6, b"fork"))
    [result] = witness_checkpoint(forked.checkpoint(6), previous=None, proof=None, urls=[url])
    assert not result.ok and "different checkpoint of size 6" in result.error
    assert result.held == GENUINE.checkpoint(6)


def test_store_witness_on_s3_in_another_bucket(moto_endpoint, s3_bucket_url):
    url = f"{s3_bucket_url}/witness?endpoint={moto_endpoint}&region=us-east-1"
    assert witness_newest([url]) == [(url, None)]
    [result] = witness_checkpoint(GENUINE.checkpoint(9), previous=None, proof=None, urls=[url])
    assert result.ok, result.error
    assert witness_newest([url]) == [(url, GENUINE.checkpoint(9))]


def test_an_unreachable_store_witness_is_reported(tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the witness's directory should be")
    url = f"file://{blocked}"
    [result] = witness_checkpoint(GENUINE.checkpoint(2), previous=None, proof=None, urls=[url])
    assert not result.ok and result.error
    assert read_witnesses(["ftp://nowhere"])[0].error


# --- Configuration -----------------------------------------------------------------------------

def test_witnesses_come_from_the_setting(settings, tmp_path, http_witness):
    store_url = f"file://{tmp_path / 'w'}"
    settings.AUDIT_WITNESS_URLS = f" {store_url} ,{http_witness.url},, "
    results = witness_checkpoint(GENUINE.checkpoint(5), previous=None, proof=None)
    assert [(r.url, r.ok) for r in results] == [(store_url, True), (http_witness.url, True)]
    assert [c for _, c in witness_newest()] == [GENUINE.checkpoint(5)] * 2
    settings.AUDIT_WITNESS_URLS = ""
    assert witness_checkpoint(GENUINE.checkpoint(6), previous=None, proof=None) == []
    assert witness_newest() == []


def test_an_unknown_scheme_is_a_failed_result_not_an_exception():
    [result] = witness_checkpoint(GENUINE.checkpoint(2), previous=None, proof=None,
                                  urls=["ftp://witness.example"])
    assert not result.ok and "ftp://" in result.error


# --- With the ledger's own checkpoints ---------------------------------------------------------

@pytest.mark.django_db
def test_the_ledgers_checkpoints_and_proofs_are_witnessed(tmp_path):
    from casefile.audit.checkpoints import checkpoint_document, db_tree
    from casefile.audit.models import AuditCheckpoint
    from casefile.audit.shipping import audit_ship
    from casefile.audit.signing import signing_key
    from tests.audit.helpers import record_entries

    record_entries(7)
    audit_ship(max_entries=3)
    docs = [checkpoint_document(c) for c in AuditCheckpoint.objects.order_by("seq")]
    assert [d["tree_size"] for d in docs] == [3, 6, 7]

    witness = ReferenceWitness([signing_key().public], Ed25519PrivateKey.generate())
    server = serve_witness(witness)
    try:
        urls = [f"http://127.0.0.1:{server.server_address[1]}", f"file://{tmp_path / 'w'}"]
        previous = None
        for doc in docs:
            proof = (encode_proof(db_tree(doc["tree_size"]).consistency_proof(
                previous["tree_size"])) if previous else None)
            results = witness_checkpoint(doc, previous=previous, proof=proof, urls=urls)
            assert all(r.ok for r in results), results
            previous = doc
        assert [c for _, c in witness_newest(urls)] == [docs[-1], docs[-1]]
    finally:
        server.shutdown()
        server.server_close()
