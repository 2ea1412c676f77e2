"""EU DSA Art. 17 statements of reasons in the Transparency Database's own API format: the
model, validation before export, NDJSON export, batching, and one small submission client.

Source followed for every field, value list, length, date bound and conditional rule (the
Laravel application that implements the API, github.com/digital-services-act/transparency-database
at commit 69e80a0bc8eb, June 2026):
  - app/Http/Requests/StatementStoreRequest.php (single-statement rules) and
    app/Services/GroupedSubmissionsService.php `multi_rules` (the same rules per statement of
    `POST /api/v1/statements`, with `statements` between 1 and 100);
  - app/Models/Statement.php (DECISION_VISIBILITIES, DECISION_MONETARIES, DECISION_PROVISIONS,
    DECISION_ACCOUNTS, ACCOUNT_TYPES, DECISION_GROUNDS, CONTENT_TYPES, STATEMENT_CATEGORIES,
    KEYWORDS, SOURCE_TYPES, AUTOMATED_DETECTIONS, AUTOMATED_DECISIONS,
    INCOMPATIBLE_CONTENT_ILLEGALS: the API takes the keys);
  - app/Services/EuropeanCountriesService.php (EUROPEAN_COUNTRY_CODES, EU + EEA) and
    app/Services/EuropeanLanguagesService.php (ALL_LANGUAGES, upper-case ISO 639-1);
  - routes/api_v1.php, app/Http/Controllers/Api/v1/StatementMultipleAPIController.php,
    app/Exceptions/PuidNotUnique*Exception.php and resources/markdown/api-documentation.md
    (published as https://transparency.dsa.ec.europa.eu/page/api-documentation): Bearer token,
    201 with `{"statements": [...]}` echoing each `uuid` and `puid`, 422 with errors keyed
    `statement_<index>`, or `errors.existing_puids` when a puid was already used.

Where we are stricter than the API, on purpose:
  - a conditional field sent when its condition does not hold (an `*_other` text without the
    OTHER value, incompatible-content fields on an illegal-content ground, `source_identity` on
    own initiative) is refused: the API silently drops it, so what we keep would differ from
    what is published;
  - end dates before `application_date` are refused (the documentation's rule; the validator
    does not check it);
  - `decision_ground_reference_url` must be http(s); unknown fields are refused (typos).
The documentation calls `territorial_scope` required, but the validator accepts it missing or
null; we follow the validator.

Pure: no database, no settings; the caller (the outbox, later) owns retries and scheduling.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator

from casefile.core.errors import ValidationFailed
from casefile.core.schemas import Bounded, Schema

API_PATH = "/api/v1/statements"  # routes/api_v1.php: api.v1.statements.store
MAX_BATCH = 100  # StatementMultipleAPIController: 'statements' => 'required|array|between:1,100'

# --- value lists (copied key for key from the files named above) --------------------------------
DecisionVisibility = Literal[
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
]

DecisionMonetary = Literal[
    "DECISION_MONETARY_SUSPENSION",
    "DECISION_MONETARY_TERMINATION",
    "DECISION_MONETARY_OTHER",
]

DecisionProvision = Literal[
    "DECISION_PROVISION_PARTIAL_SUSPENSION",
    "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION",
    "DECISION_PROVISION_TOTAL_TERMINATION",
]

DecisionAccount = Literal[
    "DECISION_ACCOUNT_SUSPENDED",
    "DECISION_ACCOUNT_TERMINATED",
]

AccountType = Literal[
    "ACCOUNT_TYPE_BUSINESS",
    "ACCOUNT_TYPE_PRIVATE",
]

DecisionGround = Literal[
    "DECISION_GROUND_ILLEGAL_CONTENT",
    "DECISION_GROUND_INCOMPATIBLE_CONTENT",
]

ContentType = Literal[
    "CONTENT_TYPE_APP",
    "CONTENT_TYPE_AUDIO",
    "CONTENT_TYPE_IMAGE",
    "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "CONTENT_TYPE_TEXT",
    "CONTENT_TYPE_VIDEO",
    "CONTENT_TYPE_OTHER",
]

Category = Literal[
    "STATEMENT_CATEGORY_ANIMAL_WELFARE",
    "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE",
    "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
    "STATEMENT_CATEGORY_VIOLENCE",
]

Keyword = Literal[
    "KEYWORD_ADULT_SEXUAL_MATERIAL",
    "KEYWORD_AGE_SPECIFIC_RESTRICTIONS",
    "KEYWORD_AGE_SPECIFIC_RESTRICTIONS_MINORS",
    "KEYWORD_ANIMAL_HARM",
    "KEYWORD_BIOMETRIC_DATA_BREACH",
    "KEYWORD_BULLYING_AGAINST_GIRLS",
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
    "KEYWORD_CONTENT_PROMOTING_EATING_DISORDERS",
    "KEYWORD_COORDINATED_HARM",
    "KEYWORD_COPYRIGHT_INFRINGEMENT",
    "KEYWORD_CYBER_BULLYING_INTIMIDATION",
    "KEYWORD_CYBER_HARASSMENT",
    "KEYWORD_CYBER_HARASSMENT_AGAINST_WOMEN",
    "KEYWORD_CYBER_INCITEMENT",
    "KEYWORD_CYBER_STALKING",
    "KEYWORD_CYBER_STALKING_AGAINST_WOMEN",
    "KEYWORD_DATA_FALSIFICATION",
    "KEYWORD_DEFAMATION",
    "KEYWORD_DESIGN_INFRINGEMENT",
    "KEYWORD_DISCRIMINATION",
    "KEYWORD_FEMALE_GENDERED_DISINFORMATION",
    "KEYWORD_GEOGRAPHIC_INDICATIONS_INFRINGEMENT",
    "KEYWORD_GEOGRAPHICAL_REQUIREMENTS",
    "KEYWORD_GOODS_SERVICES_NOT_PERMITTED",
    "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS",
    "KEYWORD_HATE_SPEECH",
    "KEYWORD_HIDDEN_ADVERTISEMENT",
    "KEYWORD_HUMAN_EXPLOITATION",
    "KEYWORD_HUMAN_TRAFFICKING",
    "KEYWORD_ILLEGAL_ORGANIZATIONS",
    "KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING",
    "KEYWORD_INAUTHENTIC_ACCOUNTS",
    "KEYWORD_INAUTHENTIC_LISTINGS",
    "KEYWORD_INAUTHENTIC_USER_REVIEWS",
    "KEYWORD_INCITEMENT_AGAINST_WOMEN",
    "KEYWORD_INCITEMENT_VIOLENCE_HATRED",
    "KEYWORD_INSUFFICIENT_INFORMATION_ON_TRADERS",
    "KEYWORD_LANGUAGE_REQUIREMENTS",
    "KEYWORD_MISINFORMATION_DISINFORMATION",
    "KEYWORD_MISLEADING_INFO_CONSUMER_RIGHTS",
    "KEYWORD_MISLEADING_INFO_GOODS_SERVICES",
    "KEYWORD_MISSING_PROCESSING_GROUND",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN",
    "KEYWORD_NONCOMPLIANCE_PRICING",
    "KEYWORD_NUDITY",
    "KEYWORD_PATENT_INFRINGEMENT",
    "KEYWORD_PHISHING",
    "KEYWORD_PROHIBITED_PRODUCTS",
    "KEYWORD_PYRAMID_SCHEMES",
    "KEYWORD_RIGHT_TO_BE_FORGOTTEN",
    "KEYWORD_RISK_ENVIRONMENTAL_DAMAGE",
    "KEYWORD_RISK_PUBLIC_HEALTH",
    "KEYWORD_SELF_MUTILATION",
    "KEYWORD_STALKING",
    "KEYWORD_SUICIDE",
    "KEYWORD_TERRORIST_CONTENT",
    "KEYWORD_TRADE_SECRET_INFRINGEMENT",
    "KEYWORD_TRADEMARK_INFRINGEMENT",
    "KEYWORD_TRAFFICKING_WOMEN_GIRLS",
    "KEYWORD_UNLAWFUL_SALE_ANIMALS",
    "KEYWORD_UNSAFE_CHALLENGES",
    "KEYWORD_UNSAFE_PRODUCTS",
    "KEYWORD_VIOLATION_EU_LAW",
    "KEYWORD_VIOLATION_NATIONAL_LAW",
    "KEYWORD_OTHER",
]

SourceType = Literal[
    "SOURCE_ARTICLE_16",
    "SOURCE_TRUSTED_FLAGGER",
    "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
]

AutomatedDecision = Literal[
    "AUTOMATED_DECISION_FULLY",
    "AUTOMATED_DECISION_PARTIALLY",
    "AUTOMATED_DECISION_NOT_AUTOMATED",
]

YesNo = Literal["Yes", "No"]  # AUTOMATED_DETECTIONS and INCOMPATIBLE_CONTENT_ILLEGALS

CountryCode = Literal[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
]

LanguageCode = Literal[
    "AB", "AA", "AF", "AK", "SQ", "AM", "AR", "AN", "HY", "AS", "AV", "AE", "AY", "AZ", "BM",
    "BA", "EU", "BE", "BN", "BH", "BI", "BS", "BR", "BG", "MY", "CA", "KM", "CH", "CE", "NY",
    "ZH", "CU", "CV", "KW", "CO", "CR", "HR", "CS", "DA", "DV", "NL", "DZ", "EN", "EO", "ET",
    "EE", "FO", "FJ", "FI", "FR", "FF", "GD", "GL", "LG", "KA", "DE", "KI", "EL", "KL", "GN",
    "GU", "HT", "HA", "HE", "HZ", "HI", "HO", "HU", "IS", "IO", "IG", "ID", "IA", "IE", "IU",
    "IK", "GA", "IT", "JA", "JV", "KN", "KR", "KS", "KK", "RW", "KV", "KG", "KO", "KJ", "KU",
    "KY", "LO", "LA", "LV", "LB", "LI", "LN", "LT", "LU", "MK", "MG", "MS", "ML", "MT", "GV",
    "MI", "MR", "MH", "RO", "MN", "NA", "NV", "ND", "NG", "NE", "SE", "NO", "NB", "NN", "II",
    "OC", "OJ", "OR", "OM", "OS", "PI", "PA", "PS", "FA", "PL", "PT", "QU", "RM", "RN", "RU",
    "SM", "SG", "SA", "SC", "SR", "SN", "SD", "SI", "SK", "SL", "SO", "ST", "NR", "ES", "SU",
    "SW", "SS", "SV", "TL", "TY", "TG", "TA", "TT", "TE", "TH", "BO", "TI", "TO", "TS", "TN",
    "TR", "TK", "TW", "UG", "UK", "UR", "UZ", "VE", "VI", "VO", "WA", "CY", "FY", "WO", "XH",
    "YI", "YO", "ZA", "ZU",
]

DECISION_FIELDS = ("decision_visibility", "decision_monetary", "decision_provision",
                   "decision_account")


# --- field types ---------------------------------------------------------------------------------
def _not_blank(value: str) -> str:
    # Laravel trims strings and turns "" into null, so a blank required text counts as missing.
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Text500 = Annotated[str, Bounded(500)]
Text2000 = Annotated[str, Bounded(2000)]
Facts = Annotated[str, Bounded(5000, min_length=1), AfterValidator(_not_blank)]
Puid = Annotated[str, Bounded(500, min_length=1, pattern=r"^[A-Za-z0-9_-]+$")]
Ean13 = Annotated[str, Bounded(13, pattern=r"^[0-9]{13}$")]


def _http_url(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError("must be an http(s) URL")
    return value


Url = Annotated[str, Bounded(500), AfterValidator(_http_url)]

_YMD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _ymd(value: Any) -> date:
    """`date_format:Y-m-d` exactly: pydantic alone would also take timestamps and date-times."""
    if isinstance(value, datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _YMD.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError("is not a calendar date") from None
    raise ValueError("must be a date in the form YYYY-MM-DD")


def _within(low: date | None, high: date) -> AfterValidator:
    def check(value: date) -> date:
        if (low is not None and value < low) or value > high:
            raise ValueError(f"must be from {low or 'any date'} to {high}")
        return value
    return AfterValidator(check)


LAST_DATE = date(2038, 1, 1)  # every date: 'before_or_equal:2038-01-01'
ContentDate = Annotated[date, BeforeValidator(_ymd), _within(date(2000, 1, 1), LAST_DATE)]
ApplicationDate = Annotated[date, BeforeValidator(_ymd), _within(date(2020, 1, 1), LAST_DATE)]
EndDate = Annotated[date, BeforeValidator(_ymd), _within(None, LAST_DATE)]


# --- the statement -------------------------------------------------------------------------------
class _RuleViolations(ValueError):
    """The conditional rules' findings, kept as (field, message) so each names its field."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


class StatementOfReasons(Schema):
    """One statement of reasons, field for field as `POST /api/v1/statements` takes it."""

    # At least one of the four decision_* fields (checked in `_rules`).
    decision_visibility: list[DecisionVisibility] | None = None
    decision_visibility_other: Text500 | None = None
    decision_monetary: DecisionMonetary | None = None
    decision_monetary_other: Text500 | None = None
    decision_provision: DecisionProvision | None = None
    decision_account: DecisionAccount | None = None
    account_type: AccountType | None = None

    decision_ground: DecisionGround
    decision_ground_reference_url: Url | None = None
    illegal_content_legal_ground: Text500 | None = None
    illegal_content_explanation: Text2000 | None = None
    incompatible_content_ground: Text500 | None = None
    incompatible_content_explanation: Text2000 | None = None
    incompatible_content_illegal: YesNo | None = None

    content_type: Annotated[list[ContentType], Field(min_length=1)]
    content_type_other: Text500 | None = None
    content_id: dict[Literal["EAN-13"], Ean13] | None = None
    content_id_ean: Ean13 | None = None
    content_language: LanguageCode | None = None
    content_date: ContentDate

    category: Category
    category_addition: list[Category] | None = None
    category_specification: list[Keyword] | None = None
    category_specification_other: Text500 | None = None
    territorial_scope: list[CountryCode] | None = None

    application_date: ApplicationDate
    end_date_account_restriction: EndDate | None = None
    end_date_monetary_restriction: EndDate | None = None
    end_date_service_restriction: EndDate | None = None
    end_date_visibility_restriction: EndDate | None = None

    decision_facts: Facts
    source_type: SourceType
    source_identity: Text500 | None = None
    automated_detection: YesNo
    automated_decision: AutomatedDecision
    puid: Puid

    @model_validator(mode="after")
    def _conditional_rules(self) -> StatementOfReasons:
        problems = _rules(self.__dict__)
        if problems:
            raise _RuleViolations(problems)
        return self

    def to_api(self) -> dict[str, Any]:
        """The JSON object the API takes: its field names, dates as YYYY-MM-DD, nulls left out."""
        return self.model_dump(mode="json", exclude_none=True)


def _given(value: Any) -> bool:
    # What Laravel's `required` accepts: not null, not a blank string, not an empty list.
    if value is None or value == [] or value == {}:
        return False
    return not (isinstance(value, str) and not value.strip())


def _has(values: Mapping[str, Any], key: str, needle: str) -> bool:
    value = values.get(key)
    return value == needle or (isinstance(value, list) and needle in value)


def _rules(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The API's conditional rules. Works on the model's values and on raw input alike, so a
    statement with bad fields still gets every finding in one answer."""
    problems: list[tuple[str, str]] = []
    if not any(_given(values.get(f)) for f in DECISION_FIELDS):
        # The API names each of the four; so do we, so the console can mark each input.
        problems += [(f, "at least one of decision_visibility, decision_monetary, "
                         "decision_provision or decision_account is required")
                     for f in DECISION_FIELDS]

    def only_when(condition: bool, target: str, what: str, *, required: bool) -> None:
        if condition and required and not _given(values.get(target)):
            problems.append((target, f"is required when {what}"))
        elif not condition and values.get(target) is not None:
            problems.append((target, f"is only accepted when {what}"))

    only_when(_has(values, "decision_visibility", "DECISION_VISIBILITY_OTHER"),
              "decision_visibility_other", "decision_visibility has DECISION_VISIBILITY_OTHER",
              required=True)
    only_when(_has(values, "decision_monetary", "DECISION_MONETARY_OTHER"),
              "decision_monetary_other", "decision_monetary is DECISION_MONETARY_OTHER",
              required=True)
    only_when(_has(values, "content_type", "CONTENT_TYPE_OTHER"),
              "content_type_other", "content_type has CONTENT_TYPE_OTHER", required=True)
    only_when(_has(values, "category_specification", "KEYWORD_OTHER"),
              "category_specification_other", "category_specification has KEYWORD_OTHER",
              required=False)
    illegal = values.get("decision_ground") == "DECISION_GROUND_ILLEGAL_CONTENT"
    incompatible = values.get("decision_ground") == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    for target in ("illegal_content_legal_ground", "illegal_content_explanation"):
        only_when(illegal, target, "decision_ground is DECISION_GROUND_ILLEGAL_CONTENT",
                  required=True)
    for target in ("incompatible_content_ground", "incompatible_content_explanation"):
        only_when(incompatible, target, "decision_ground is DECISION_GROUND_INCOMPATIBLE_CONTENT",
                  required=True)
    only_when(incompatible, "incompatible_content_illegal",
              "decision_ground is DECISION_GROUND_INCOMPATIBLE_CONTENT", required=False)
    only_when(values.get("source_type") != "SOURCE_VOLUNTARY", "source_identity",
              "source_type is not SOURCE_VOLUNTARY", required=False)

    ean = values.get("content_id")
    if (isinstance(ean, dict) and values.get("content_id_ean") is not None
            and ean.get("EAN-13") != values.get("content_id_ean")):
        # The API keeps one EAN: content_id_ean wins over content_id's, silently.
        problems.append(("content_id_ean", "differs from content_id.EAN-13"))

    applied = values.get("application_date")
    for end in ("end_date_account_restriction", "end_date_monetary_restriction",
                "end_date_service_restriction", "end_date_visibility_restriction"):
        value = values.get(end)
        if isinstance(applied, date) and isinstance(value, date) and value < applied:
            problems.append((end, "must not be before application_date"))
    return problems


def _details(exc: ValidationError, raw: Mapping[str, Any]) -> list[dict[str, str]]:
    details: list[dict[str, str]] = []
    rules_ran = False
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _RuleViolations):
            rules_ran = True
            details += [{"field": f, "message": m} for f, m in cause.problems]
        else:
            # pydantic marks a bad dict key with a trailing "[key]"; the key itself is the path.
            path = ".".join(str(p) for p in error["loc"] if p != "[key]") or "statement"
            details.append({"field": path, "message": error["msg"]})
    if not rules_ran:
        # Field errors stop pydantic before the model rules; run them on the raw input too so one
        # answer lists everything to fix.
        seen = {(d["field"], d["message"]) for d in details}
        details += [{"field": f, "message": m} for f, m in _rules(raw) if (f, m) not in seen]
    return details


def validate_statement(data: Mapping[str, Any]) -> StatementOfReasons:
    """A statement from the API's JSON shape, or ValidationFailed naming every bad field."""
    if not isinstance(data, Mapping):
        raise ValidationFailed("a statement of reasons must be a JSON object",
                               details=[{"field": "statement", "message": "must be an object"}])
    try:
        return StatementOfReasons.model_validate(dict(data))
    except ValidationError as exc:
        details = _details(exc, data)
        raise ValidationFailed(
            f"the statement of reasons is not valid: {', '.join(d['field'] for d in details)}",
            details=details) from None


# --- export --------------------------------------------------------------------------------------
def to_ndjson(statements: Iterable[StatementOfReasons]) -> Iterator[bytes]:
    """One API-shaped JSON object per line; streams, so an export never holds every row."""
    for statement in statements:
        yield orjson.dumps(statement.to_api()) + b"\n"


T = TypeVar("T")


def batches(items: Iterable[T], size: int = MAX_BATCH) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` (1 to 100: the API refuses larger calls)."""
    if not 1 <= size <= MAX_BATCH:
        raise ValueError(f"batch size must be 1 to {MAX_BATCH}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- submission ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Accepted:
    puid: str
    uuid: str | None
    permalink: str | None


@dataclass(frozen=True)
class SubmitResult:
    """One call's outcome. `ok`: every statement was created. `retryable`: nothing was created
    and the same batch may be sent again later (429, 5xx, timeout, connection failure).
    Otherwise nothing was created and the batch must change first: `errors` maps each refused
    statement's puid to {field: [messages]}; `existing_puids` are statements the database already
    holds (for instance from an earlier call whose answer was lost) — drop them and resend."""

    ok: bool
    retryable: bool
    status: int | None
    accepted: tuple[Accepted, ...] = ()
    errors: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    existing_puids: tuple[str, ...] = ()
    retry_after: float | None = None
    message: str = ""


MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # 100 echoed statements stay far below this


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would replay the Bearer token (or drop the body) on another URL; refuse it.
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the caller's own backoff applies


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def submit_batch(*, base_url: str, token: str, statements: Sequence[StatementOfReasons],
                 timeout: float = 10) -> SubmitResult:
    """POST one batch (1 to 100 validated statements) to `{base_url}/api/v1/statements`."""
    if not 1 <= len(statements) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} statements")
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("base_url must be an http(s) URL")
    body = orjson.dumps({"statements": [s.to_api() for s in statements]})
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
        base_url.rstrip("/") + API_PATH, data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                 "Content-Type": "application/json"})
    try:
        with _opener.open(request, timeout=timeout) as response:
            return _created(response.status, response.read(MAX_RESPONSE_BYTES), statements)
    except urllib.error.HTTPError as exc:
        with exc:
            payload = exc.read(MAX_RESPONSE_BYTES)
        return _refused(exc.code, payload, exc.headers.get("Retry-After"), statements)
    except TimeoutError as exc:
        return SubmitResult(ok=False, retryable=True, status=None, message=f"timed out: {exc}")
    except (urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        timed_out = isinstance(reason, TimeoutError)
        return SubmitResult(ok=False, retryable=True, status=None,
                            message=f"{'timed out' if timed_out else 'unreachable'}: {reason}")


def _created(status: int, payload: bytes, sent: Sequence[StatementOfReasons]) -> SubmitResult:
    data = _json(payload)
    rows = data.get("statements") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        # 2xx without the echo: the statements were most likely stored; report what we sent,
        # and a resend would be answered with existing_puids, which is safe.
        rows = [{"puid": s.puid} for s in sent]
    accepted = tuple(
        Accepted(puid=str(r.get("puid")), uuid=r.get("uuid"), permalink=r.get("permalink"))
        for r in rows if isinstance(r, dict))
    return SubmitResult(ok=True, retryable=False, status=status, accepted=accepted)


def _refused(status: int, payload: bytes, retry_after: str | None,
             sent: Sequence[StatementOfReasons]) -> SubmitResult:
    data = _json(payload)
    message = str(data.get("message", "")) if isinstance(data, dict) else ""
    if status == 429 or status >= 500:
        return SubmitResult(ok=False, retryable=True, status=status,
                            retry_after=_retry_after(retry_after),
                            message=message or f"HTTP {status}")
    errors: dict[str, dict[str, list[str]]] = {}
    existing: tuple[str, ...] = ()
    raw = data.get("errors") if isinstance(data, dict) else None
    if status == 422 and isinstance(raw, dict):
        listed = raw.get("existing_puids")
        if isinstance(listed, list):
            existing = tuple(str(p) for p in listed)
        for key, fields in raw.items():
            # Per-statement errors are keyed by position ("statement_3"); we key them by puid,
            # which is what the caller stores.
            match = re.fullmatch(r"statement_([0-9]+)", str(key))
            if match and isinstance(fields, dict) and int(match.group(1)) < len(sent):
                errors[sent[int(match.group(1))].puid] = {
                    str(f): [str(m) for m in (v if isinstance(v, list) else [v])]
                    for f, v in fields.items()}
    return SubmitResult(ok=False, retryable=False, status=status, errors=errors,
                        existing_puids=existing, message=message or f"HTTP {status}")
