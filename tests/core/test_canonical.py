import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from casefile.core.canonical import canonical_json, canonical_json_fast

SAFE_INT = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | SAFE_INT | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_fast_path_gives_the_rfc8785_bytes(value):
    assert canonical_json_fast(value) == rfc8785.dumps(value)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_float_free_mode_gives_the_rfc8785_bytes(value):
    assert canonical_json_fast(value, float_free=True) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=4), st.floats(allow_nan=False, allow_infinity=False)))
def test_floats_take_the_definition(value):
    assert canonical_json_fast(value) == rfc8785.dumps(value)


def test_known_differences_fall_back():
    # orjson writes 1.0 and sorts keys by code point; JCS writes 1 and sorts by UTF-16 units.
    assert canonical_json_fast({"a": 1.0}) == b'{"a":1}'
    keys = {"\U0001f600": 1, "\ufb01": 2}
    assert canonical_json_fast(keys) == canonical_json(keys)
    assert canonical_json_fast({"k": "\u00e9\u0001"}) == canonical_json({"k": "\u00e9\u0001"})
