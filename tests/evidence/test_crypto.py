"""Envelope encryption and the master key file."""

from __future__ import annotations

import base64
import os
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ImproperlyConfigured

from casefile.evidence import crypto


def test_seal_and_open_round_trip_with_the_blob_id_bound():
    wrapper = crypto.LocalKeyWrapper(os.urandom(32))
    sealed = crypto.seal(b"secret", blob_id="evb_1", wrapper=wrapper)
    assert sealed.ciphertext != b"secret" and len(sealed.nonce) == 12
    assert crypto.open_sealed(sealed.ciphertext, nonce=sealed.nonce,
                              wrapped_key=sealed.wrapped_key, blob_id="evb_1",
                              wrapper=wrapper) == b"secret"
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_sealed(sealed.ciphertext, nonce=sealed.nonce,
                           wrapped_key=sealed.wrapped_key, blob_id="evb_2", wrapper=wrapper)
    with pytest.raises(crypto.DecryptionFailed):  # another master key
        crypto.open_sealed(sealed.ciphertext, nonce=sealed.nonce,
                           wrapped_key=sealed.wrapped_key, blob_id="evb_1",
                           wrapper=crypto.LocalKeyWrapper(os.urandom(32)))
    other = crypto.seal(b"secret", blob_id="evb_1", wrapper=wrapper)
    assert other.wrapped_key != sealed.wrapped_key  # a fresh data key per blob


def test_the_key_file_is_created_once_0600_and_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "evidence_master_key"
    first = crypto.load_or_create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(crypto.decode_key(first.decode(), "test")) == 32
    assert crypto.load_or_create_key_file(path) == first
    # racing creators all end with the one key that won
    other = tmp_path / "race" / "key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: crypto.load_or_create_key_file(other), range(16)))
    assert len(keys) == 1
    assert [p.name for p in other.parent.iterdir()] == ["key"]  # no temporary files left


def test_an_unreadable_key_file_is_reported_not_replaced(tmp_path):
    path = tmp_path / "key"
    path.write_text("not a key")
    with pytest.raises(ImproperlyConfigured):
        crypto.decode_key(crypto.load_or_create_key_file(path).decode(), str(path))
    assert path.read_text() == "not a key"


def test_the_configured_key_comes_from_the_setting_or_the_file(settings, tmp_path):
    settings.EVIDENCE_MASTER_KEY = None
    settings.EVIDENCE_MASTER_KEY_FILE = tmp_path / "k"
    crypto.key_wrapper.cache_clear()
    try:
        from_file = crypto.key_wrapper()
        assert (tmp_path / "k").exists()
        crypto.key_wrapper.cache_clear()
        assert crypto.key_wrapper().key_id == from_file.key_id  # same file, same key
        key = os.urandom(32)
        settings.EVIDENCE_MASTER_KEY = base64.b64encode(key).decode()
        crypto.key_wrapper.cache_clear()
        assert crypto.key_wrapper().key_id == crypto.LocalKeyWrapper(key).key_id
        settings.EVIDENCE_MASTER_KEY = key.hex()
        crypto.key_wrapper.cache_clear()
        assert crypto.key_wrapper().key_id == crypto.LocalKeyWrapper(key).key_id
        settings.EVIDENCE_MASTER_KEY = base64.b64encode(b"short").decode()
        crypto.key_wrapper.cache_clear()
        with pytest.raises(ImproperlyConfigured):
            crypto.key_wrapper()
    finally:
        crypto.key_wrapper.cache_clear()
