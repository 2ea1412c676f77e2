"""Identifiers: a short prefix naming the kind of thing, then a ULID (sortable by creation time)."""

from ulid import ULID

PREFIXES = frozenset({
    "cas", "act", "aud", "cls", "tpl", "dpk", "doc", "dse", "evt", "usr", "ten",  # DESIGN
    "stf", "tok", "ckp",  # staff users, API tokens, ledger checkpoints
})


def new_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{ULID()}"


def id_factory(prefix: str):
    """A zero-argument default for a model's primary key, e.g. `default=id_factory("cas")`.

    Returns a module-level function (not a lambda) so migrations can serialise it.
    """
    return _FACTORIES[prefix]


def _make(prefix: str):
    def factory() -> str:
        return new_id(prefix)

    factory.__name__ = factory.__qualname__ = f"new_{prefix}_id"
    return factory


_FACTORIES = {p: _make(p) for p in PREFIXES}
globals().update({f.__name__: f for f in _FACTORIES.values()})
