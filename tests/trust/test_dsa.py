"""The DSA statement of reasons: fields and rules as the Transparency Database's API has them,
NDJSON export, batching, and the submission client against a local fake API on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, get_args

import orjson
import pytest

from casefile.core.errors import ValidationFailed
from casefile.trust import dsa


def complete() -> dict[str, Any]:
    """Every field the API knows, consistent with its conditional rules."""
    return {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_OTHER"],
        "decision_visibility_other": "Hidden from search",
        "decision_monetary": "DECISION_MONETARY_OTHER",
        "decision_monetary_other": "Payouts held",
        "decision_provision": "DECISION_PROVISION_PARTIAL_SUSPENSION",
        "decision_account": "DECISION_ACCOUNT_SUSPENDED",
        "account_type": "ACCOUNT_TYPE_PRIVATE",
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "decision_ground_reference_url": "https://example.test/terms#4",
        "incompatible_content_ground": "Terms 4.2",
        "incompatible_content_explanation": "Sexual content outside an adult listing.",
        "incompatible_content_illegal": "No",
        "content_type": ["CONTENT_TYPE_IMAGE", "CONTENT_TYPE_OTHER"],
        "content_type_other": "Profile banner",
        "content_id": {"EAN-13": "4006381333931"},
        "content_id_ean": "4006381333931",
        "content_language": "EN",
        "content_date": "2025-03-01",
        "category": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "category_addition": ["STATEMENT_CATEGORY_SCAMS_AND_FRAUD"],
        "category_specification": ["KEYWORD_NUDITY", "KEYWORD_OTHER"],
        "category_specification_other": "Suggestive pose",
        "territorial_scope": ["DE", "FR", "NO"],
        "application_date": "2025-03-02",
        "end_date_account_restriction": "2025-04-02",
        "end_date_monetary_restriction": "2025-04-02",
        "end_date_service_restriction": "2025-04-02",
        "end_date_visibility_restriction": "2025-03-02",
        "decision_facts": "Flagged by a classifier, confirmed by a moderator.",
        "source_type": "SOURCE_ARTICLE_16",
        "source_identity": "Notifier",
        "automated_detection": "Yes",
        "automated_decision": "AUTOMATED_DECISION_PARTIALLY",
        "puid": "mod_01HZX-decision_1",
    }


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "StGB § 184b",
        "illegal_content_explanation": "Matches a known hash.",
        "content_type": ["CONTENT_TYPE_IMAGE"],
        "content_date": "2025-03-01",
        "application_date": "2025-03-02",
        "category": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "decision_facts": "Hash match.",
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": "Yes",
        "automated_decision": "AUTOMATED_DECISION_FULLY",
        "puid": "p1",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def fields_of(data: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationFailed) as caught:
        dsa.validate_statement(data)
    assert caught.value.status == 422
    return {d["field"] for d in caught.value.details}


# --- the model -----------------------------------------------------------------------------------
def test_complete_statement_round_trips() -> None:
    data = complete()
    statement = dsa.validate_statement(data)
    assert statement.content_date == date(2025, 3, 1)
    assert statement.to_api() == data
    assert dsa.validate_statement(statement.to_api()) == statement


def test_minimal_statement_leaves_nulls_out() -> None:
    api = dsa.validate_statement(minimal()).to_api()
    assert api == minimal()


REQUIRED = ["decision_ground", "content_type", "category", "content_date", "application_date",
            "decision_facts", "source_type", "automated_detection", "automated_decision", "puid"]


@pytest.mark.parametrize("name", REQUIRED)
def test_each_required_field_missing_is_named(name: str) -> None:
    assert name in fields_of(minimal(**{name: ...}))


@pytest.mark.parametrize("name", ["decision_facts", "puid"])
def test_blank_required_text_is_refused(name: str) -> None:
    assert name in fields_of(minimal(**{name: "  " if name == "decision_facts" else ""}))


def test_content_type_must_not_be_empty() -> None:
    assert "content_type" in fields_of(minimal(content_type=[]))


def test_one_decision_is_required_and_any_one_suffices() -> None:
    assert fields_of(minimal(decision_visibility=...)) == set(dsa.DECISION_FIELDS)
    assert fields_of(minimal(decision_visibility=[])) == set(dsa.DECISION_FIELDS)
    for name, value in [("decision_monetary", "DECISION_MONETARY_SUSPENSION"),
                        ("decision_provision", "DECISION_PROVISION_TOTAL_TERMINATION"),
                        ("decision_account", "DECISION_ACCOUNT_TERMINATED")]:
        dsa.validate_statement(minimal(decision_visibility=..., **{name: value}))


def test_all_problems_are_reported_together() -> None:
    # A bad enum stops pydantic before the model rules; the rules still report.
    found = fields_of(minimal(category="NOPE", illegal_content_legal_ground=...,
                              content_type=["CONTENT_TYPE_OTHER"]))
    assert {"category", "illegal_content_legal_ground", "content_type_other"} <= found


def test_unknown_field_is_refused() -> None:
    assert "platform_name" in fields_of(minimal(platform_name="x"))


def test_not_an_object() -> None:
    with pytest.raises(ValidationFailed):
        dsa.validate_statement(["x"])  # type: ignore[arg-type]


# --- conditional rules ---------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["illegal_content_legal_ground", "illegal_content_explanation"])
def test_illegal_ground_needs_its_fields(target: str) -> None:
    assert fields_of(minimal(**{target: ...})) == {target}


@pytest.mark.parametrize("target", ["incompatible_content_ground",
                                    "incompatible_content_explanation"])
def test_incompatible_ground_needs_its_fields(target: str) -> None:
    data = complete()
    del data[target]
    assert fields_of(data) == {target}


def test_ground_fields_of_the_other_ground_are_refused() -> None:
    found = fields_of(minimal(incompatible_content_ground="T&C 1",
                              incompatible_content_explanation="x",
                              incompatible_content_illegal="Yes"))
    assert found == {"incompatible_content_ground", "incompatible_content_explanation",
                     "incompatible_content_illegal"}
    data = complete()
    data["illegal_content_legal_ground"] = "law"
    assert fields_of(data) == {"illegal_content_legal_ground"}


@pytest.mark.parametrize(("field", "other"), [
    ("decision_visibility", "decision_visibility_other"),
    ("decision_monetary", "decision_monetary_other"),
    ("content_type", "content_type_other"),
])
def test_other_value_needs_its_text_and_text_needs_the_value(field: str, other: str) -> None:
    data = complete()
    del data[other]
    assert fields_of(data) == {other}
    data = complete()
    data[field] = (["CONTENT_TYPE_TEXT"] if field == "content_type"
                   else ["DECISION_VISIBILITY_CONTENT_DEMOTED"] if field == "decision_visibility"
                   else "DECISION_MONETARY_SUSPENSION")
    assert fields_of(data) == {other}


def test_keyword_other_text_is_optional_but_only_with_keyword_other() -> None:
    data = complete()
    del data["category_specification_other"]
    dsa.validate_statement(data)
    data = complete()
    data["category_specification"] = ["KEYWORD_NUDITY"]
    assert fields_of(data) == {"category_specification_other"}


def test_source_identity_not_on_own_initiative() -> None:
    assert fields_of(minimal(source_identity="me")) == {"source_identity"}
    dsa.validate_statement(minimal(source_type="SOURCE_TRUSTED_FLAGGER", source_identity="TF"))


def test_end_dates_not_before_application() -> None:
    for name in ("end_date_account_restriction", "end_date_monetary_restriction",
                 "end_date_service_restriction", "end_date_visibility_restriction"):
        assert fields_of(minimal(**{name: "2025-03-01"})) == {name}


def test_content_ean_must_agree() -> None:
    found = fields_of(minimal(content_id={"EAN-13": "4006381333931"},
                              content_id_ean="4006381333932"))
    assert found == {"content_id_ean"}
    assert fields_of(minimal(content_id={"EAN-13": "123"})) == {"content_id.EAN-13"}
    assert "content_id.SKU" in fields_of(minimal(content_id={"SKU": "4006381333931"}))


# --- formats and lengths -------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "value"), [
    ("content_date", "2025-3-01"), ("content_date", "01/03/2025"),
    ("content_date", "2025-02-30"), ("content_date", "2025-03-01T10:00:00"),
    ("content_date", 1740787200), ("content_date", "1999-12-31"),
    ("application_date", "2019-12-31"), ("application_date", "2038-01-02"),
    ("end_date_account_restriction", "2038-01-02"),
])
def test_dates_are_yyyy_mm_dd_within_bounds(name: str, value: Any) -> None:
    assert name in fields_of(minimal(**{name: value}))


def test_date_bounds_are_inclusive() -> None:
    dsa.validate_statement(minimal(content_date="2000-01-01", application_date="2038-01-01"))
    dsa.validate_statement(minimal(content_date=date(2025, 1, 1)))


@pytest.mark.parametrize(("name", "limit"), [
    ("decision_facts", 5000), ("illegal_content_legal_ground", 500),
    ("illegal_content_explanation", 2000), ("puid", 500),
])
def test_length_limits(name: str, limit: int) -> None:
    dsa.validate_statement(minimal(**{name: "a" * limit}))
    assert fields_of(minimal(**{name: "a" * (limit + 1)})) == {name}


def test_other_texts_are_limited_to_500() -> None:
    data = complete()
    for name in ("decision_visibility_other", "decision_monetary_other", "content_type_other",
                 "category_specification_other", "source_identity",
                 "incompatible_content_ground"):
        data[name] = "x" * 501
    data["incompatible_content_explanation"] = "x" * 2001
    data["decision_ground_reference_url"] = "https://e.test/" + "x" * 490
    assert fields_of(data) == {"decision_visibility_other", "decision_monetary_other",
                               "content_type_other", "category_specification_other",
                               "source_identity", "incompatible_content_ground",
                               "incompatible_content_explanation",
                               "decision_ground_reference_url"}


@pytest.mark.parametrize("puid", ["a b", "a/b", "ä", "a\n", "a.b"])
def test_puid_characters(puid: str) -> None:
    assert fields_of(minimal(puid=puid)) == {"puid"}


@pytest.mark.parametrize("url", ["ftp://e.test/x", "not a url", "javascript:alert(1)"])
def test_reference_url_is_http(url: str) -> None:
    assert fields_of(minimal(decision_ground_reference_url=url)) == {
        "decision_ground_reference_url"}


# --- every enum ----------------------------------------------------------------------------------
SINGLE = {"decision_monetary": dsa.DecisionMonetary, "decision_provision": dsa.DecisionProvision,
          "decision_account": dsa.DecisionAccount, "account_type": dsa.AccountType,
          "decision_ground": dsa.DecisionGround, "category": dsa.Category,
          "source_type": dsa.SourceType, "automated_detection": dsa.YesNo,
          "automated_decision": dsa.AutomatedDecision, "content_language": dsa.LanguageCode}
LISTS = {"decision_visibility": dsa.DecisionVisibility, "content_type": dsa.ContentType,
         "category_addition": dsa.Category, "category_specification": dsa.Keyword,
         "territorial_scope": dsa.CountryCode}


@pytest.mark.parametrize("name", sorted(SINGLE) + ["incompatible_content_illegal"])
def test_single_enum_rejects_unknown(name: str) -> None:
    data = complete()
    data[name] = "NOT_A_VALUE"
    assert name in fields_of(data)


@pytest.mark.parametrize("name", sorted(LISTS))
def test_list_enum_rejects_unknown(name: str) -> None:
    data = complete()
    data[name] = [*data.get(name, []), "NOT_A_VALUE"]
    assert any(f.startswith(f"{name}.") for f in fields_of(data))


def test_enum_lists_match_the_source() -> None:
    # Counts from app/Models/Statement.php and the two services, at the cited commit.
    assert len(get_args(dsa.DecisionVisibility)) == 7
    assert len(get_args(dsa.DecisionMonetary)) == 3
    assert len(get_args(dsa.DecisionProvision)) == 4
    assert len(get_args(dsa.DecisionAccount)) == 2
    assert len(get_args(dsa.ContentType)) == 8
    assert len(get_args(dsa.Category)) == 16
    assert len(get_args(dsa.Keyword)) == 69
    assert len(get_args(dsa.SourceType)) == 4
    assert len(get_args(dsa.CountryCode)) == 30
    assert len(get_args(dsa.LanguageCode)) == 184
    for name, kind in {**SINGLE, **LISTS}.items():
        for value in get_args(kind):
            data = complete()
            data[name] = [value] if name in LISTS else value
            data.update(_consistent(name, value))
            dsa.validate_statement(data)


def _consistent(name: str, value: str) -> dict[str, Any]:
    """Keep the conditional rules satisfied while one field takes each of its values."""
    if name == "decision_ground" and value == "DECISION_GROUND_ILLEGAL_CONTENT":
        return {"incompatible_content_ground": None, "incompatible_content_explanation": None,
                "incompatible_content_illegal": None, "illegal_content_legal_ground": "l",
                "illegal_content_explanation": "e"}
    if name == "decision_visibility" and value != "DECISION_VISIBILITY_OTHER":
        return {"decision_visibility_other": None}
    if name == "decision_monetary" and value != "DECISION_MONETARY_OTHER":
        return {"decision_monetary_other": None}
    if name == "content_type" and value != "CONTENT_TYPE_OTHER":
        return {"content_type_other": None}
    if name == "category_specification" and value != "KEYWORD_OTHER":
        return {"category_specification_other": None}
    if name == "source_type" and value == "SOURCE_VOLUNTARY":
        return {"source_identity": None}
    return {}


# --- export and batching -------------------------------------------------------------------------
def test_ndjson_lines_parse_back() -> None:
    statements = [dsa.validate_statement(complete()), dsa.validate_statement(minimal())]
    lines = list(dsa.to_ndjson(statements))
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    assert [orjson.loads(line) for line in lines] == [complete(), minimal()]
    again = [dsa.validate_statement(orjson.loads(line)) for line in lines]
    assert again == statements


def test_batches_of_100() -> None:
    assert [len(b) for b in dsa.batches(range(250))] == [100, 100, 50]
    assert [b[0] for b in dsa.batches(range(250))] == [0, 100, 200]
    assert list(dsa.batches([])) == []
    assert [len(b) for b in dsa.batches(range(5), size=2)] == [2, 2, 1]
    for size in (0, 101):
        with pytest.raises(ValueError):
            list(dsa.batches(range(3), size=size))


# --- the client against a fake Transparency Database --------------------------------------------
Handler = Callable[[BaseHTTPRequestHandler, dict[str, Any]], tuple[int, dict[str, str], bytes]]


@pytest.fixture
def fake_api() -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"requests": [], "answer": None}

    class Fake(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["requests"].append({"path": self.path, "headers": dict(self.headers),
                                      "body": body})
            status, headers, payload = state["answer"](self, body)
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout case)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["base_url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def three() -> list[dsa.StatementOfReasons]:
    return [dsa.validate_statement(minimal(puid=f"p{i}")) for i in range(3)]


def submit(state: dict[str, Any], **kw: Any) -> dsa.SubmitResult:
    return dsa.submit_batch(base_url=state["base_url"] + "/", token="tok-secret",
                            statements=kw.pop("statements", three()), **kw)


def test_submit_created(fake_api: dict[str, Any]) -> None:
    def created(_: Any, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        rows = [{**s, "uuid": f"uuid-{i}", "permalink": f"https://tdb.test/statement/uuid-{i}"}
                for i, s in enumerate(body["statements"])]
        return 201, {"Content-Type": "application/json"}, orjson.dumps({"statements": rows})

    fake_api["answer"] = created
    result = submit(fake_api)
    assert result.ok and not result.retryable and result.status == 201
    assert [(a.puid, a.uuid) for a in result.accepted] == [("p0", "uuid-0"), ("p1", "uuid-1"),
                                                          ("p2", "uuid-2")]
    request = fake_api["requests"][0]
    assert request["path"] == "/api/v1/statements"
    assert request["headers"]["Authorization"] == "Bearer tok-secret"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"] == {"statements": [minimal(puid=f"p{i}") for i in range(3)]}


def test_submit_422_maps_errors_to_puids(fake_api: dict[str, Any]) -> None:
    errors = {"statement_0": {"decision_ground": ["The selected decision ground is invalid."]},
              "statement_2": {"puid": ["The puid format is invalid."],
                              "automated_detection": ["The automated detection field is "
                                                      "required."]}}
    fake_api["answer"] = lambda *_: (422, {}, orjson.dumps({"errors": errors}))
    result = submit(fake_api)
    assert not result.ok and not result.retryable and result.status == 422
    assert result.errors == {
        "p0": {"decision_ground": ["The selected decision ground is invalid."]},
        "p2": {"puid": ["The puid format is invalid."],
               "automated_detection": ["The automated detection field is required."]}}


def test_submit_422_existing_puids(fake_api: dict[str, Any]) -> None:
    message = "The platform identifier(s) are not all unique within this call."
    fake_api["answer"] = lambda *_: (422, {}, orjson.dumps(
        {"message": message, "errors": {"puid": [message], "existing_puids": ["p1"]}}))
    result = submit(fake_api)
    assert not result.retryable and result.existing_puids == ("p1",)
    assert result.message == message


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_submit_server_errors_are_retryable(fake_api: dict[str, Any], status: int) -> None:
    fake_api["answer"] = lambda *_: (status, {"Retry-After": "30"}, b"<html>oops</html>")
    result = submit(fake_api)
    assert not result.ok and result.retryable and result.status == status
    assert result.retry_after == 30.0


@pytest.mark.parametrize("status", [401, 403, 404])
def test_submit_other_client_errors_are_final(fake_api: dict[str, Any], status: int) -> None:
    fake_api["answer"] = lambda *_: (status, {}, b'{"message": "Unauthenticated."}')
    result = submit(fake_api)
    assert not result.ok and not result.retryable and result.status == status


def test_submit_redirect_is_not_followed(fake_api: dict[str, Any]) -> None:
    fake_api["answer"] = lambda *_: (307, {"Location": "http://elsewhere.test/"}, b"")
    result = submit(fake_api)
    assert not result.ok and not result.retryable and result.status == 307
    assert len(fake_api["requests"]) == 1


def test_submit_timeout_is_retryable(fake_api: dict[str, Any]) -> None:
    def slow(*_: Any) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.0)
        return 201, {}, b"{}"

    fake_api["answer"] = slow
    started = time.monotonic()
    result = submit(fake_api, timeout=0.2)
    assert result.retryable and not result.ok and result.status is None
    assert "timed out" in result.message
    assert time.monotonic() - started < 1.0


def test_submit_unreachable_is_retryable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused
        result = dsa.submit_batch(base_url=f"http://127.0.0.1:{port}", token="t",
                                  statements=three(), timeout=2)
    assert result.retryable and result.status is None


def test_submit_refuses_bad_batches() -> None:
    for statements in ([], [dsa.validate_statement(minimal())] * 101):
        with pytest.raises(ValueError):
            dsa.submit_batch(base_url="http://127.0.0.1:9", token="t", statements=statements)
    with pytest.raises(ValueError):
        dsa.submit_batch(base_url="file:///etc/passwd", token="t", statements=three())
