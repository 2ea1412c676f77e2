import orjson

from casefile.audit.actor import Actor
from casefile.events.services import events_ingest

SYSTEM = Actor.system("tests")


def ingest(data, fmt="auto", source="tests"):
    if not isinstance(data, bytes):
        data = b"".join(orjson.dumps(r) + b"\n" for r in data)
    return events_ingest(actor=SYSTEM, data=data, fmt=fmt, source=source)
