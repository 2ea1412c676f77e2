import pytest

from casefile.core.errors import ValidationFailed
from casefile.core.pagination import decode_cursor, encode_cursor


def test_cursor_round_trip():
    assert decode_cursor(encode_cursor([12, "abc"]), 2) == [12, "abc"]


@pytest.mark.parametrize("bad", ["not-base64!!", encode_cursor([1]), encode_cursor({"a": 1})])
def test_malformed_cursor_is_refused(bad):
    with pytest.raises(ValidationFailed):
        decode_cursor(bad, 2)
