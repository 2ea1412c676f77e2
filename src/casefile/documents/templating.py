"""Clause bodies and their variables (DESIGN 9.5): Markdown with `{{ variable }}` placeholders
rendered by Jinja2's sandbox, undefined variables an error; `variables_json` a JSON Schema
(Draft 2020-12) that declares every variable a body uses.

Authoring checks a body once (it compiles; each variable it uses is declared); generation
checks the leg's variables against every clause's schema and names each missing or invalid one
(`check_variables`), then renders (`render_body`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.exceptions import ValidationError as SchemaViolation

from casefile.core.errors import ValidationFailed

# What a substituted value may not do: start Markdown structure of its own. Each ASCII
# punctuation mark Markdown gives a meaning is backslash-escaped (markdown-it prints it
# literally), and line breaks become spaces, so a party's name cannot open a heading, a list
# or emphasis inside a clause.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def _literal(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = re.sub(r"[\r\n]+", " ", str(value))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                finalize=_literal, keep_trailing_newline=True)


_ENV = _environment()


@functools.lru_cache(maxsize=1024)
def _compiled(body: str) -> jinja2.Template:
    # Keyed by the body's text: a published body never changes, so the cache stays true.
    return _ENV.from_string(body)


def body_variables(body: str) -> set[str]:
    """The top-level variables a body uses; 422 naming the line if it does not compile."""
    try:
        ast = _ENV.parse(body)
    except jinja2.TemplateSyntaxError as exc:
        raise ValidationFailed(f"body_markdown: line {exc.lineno}: {exc.message}",
                               details={"field": "body_markdown", "line": exc.lineno,
                                        "message": exc.message}) from None
    return set(meta.find_undeclared_variables(ast))


def check_schema(schema: Any, *, field: str = "variables_json") -> dict[str, Any]:
    """A JSON Schema for an object of named variables."""
    if not isinstance(schema, dict):
        raise ValidationFailed(f"{field}: must be a JSON Schema object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise ValidationFailed(f"{field}: not a valid JSON Schema (Draft 2020-12): "
                               f"{where + ': ' if where else ''}{exc.message}",
                               details={"field": field, "path": where,
                                        "message": exc.message}) from None
    if schema.get("type") != "object" or not isinstance(schema.get("properties", {}), dict):
        raise ValidationFailed(f'{field}: the schema must be {{"type": "object", "properties": '
                               "{…}}, one property per variable",
                               details={"field": field})
    return schema


def check_body(body: str, schema: dict[str, Any]) -> None:
    """The body compiles and uses only variables its schema declares (422 naming each)."""
    used = body_variables(body)
    declared = set(schema.get("properties", {}))
    undeclared = sorted(used - declared)
    if undeclared:
        raise ValidationFailed(
            "body_markdown uses variables variables_json does not declare: "
            + ", ".join(undeclared),
            details={"field": "body_markdown", "undeclared": undeclared})


@dataclass(frozen=True)
class ClauseSchema:
    """What a clause asks of the variables: its id and name (to name it in errors)."""

    clause_id: str
    name: str
    version: int
    schema: dict[str, Any]


@functools.lru_cache(maxsize=1024)
def _validator(clause_id: str, version: int, schema_json: str) -> Draft202012Validator:
    import json

    return Draft202012Validator(json.loads(schema_json))


def _problems(error: SchemaViolation) -> list[tuple[str, str]]:
    """(field path, message) for one violation; a `required` one names the missing field."""
    parent = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        return [(".".join([*parent, name]), "is required") for name in missing]
    return [(".".join(parent) or "(variables)", error.message)]


def check_variables(variables: dict[str, Any], clauses: Iterable[ClauseSchema]) -> None:
    """422 naming EACH missing or invalid variable across all the clauses, each with the
    clauses that ask for it (not only the first problem found)."""
    import json

    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for clause in clauses:
        validator = _validator(clause.clause_id, clause.version,
                               json.dumps(clause.schema, sort_keys=True))
        for error in validator.iter_errors(variables):
            for field, message in _problems(error):
                asked = found.setdefault((field, message), [])
                entry = {"clause_id": clause.clause_id, "name": clause.name,
                         "version": clause.version}
                if entry not in asked:
                    asked.append(entry)
    if found:
        problems = [{"field": field, "message": message, "clauses": clauses_}
                    for (field, message), clauses_ in sorted(found.items())]
        raise ValidationFailed(
            f"{len(problems)} missing or invalid variable(s): "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            details={"variables": problems})


class RenderFailed(Exception):
    """A body could not be rendered with the variables: a variable it uses is undefined (one
    its schema declares but does not require), or the sandbox refused an operation."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


def render_body(body: str, variables: dict[str, Any]) -> str:
    try:
        return _compiled(body).render(variables)
    except jinja2.UndefinedError as exc:
        text = str(exc.message or exc)
        match = _UNDEFINED.search(text)
        field = next((g for g in (match.groups() if match else ()) if g), "(variables)")
        raise RenderFailed(field, text) from None
    except jinja2.exceptions.SecurityError as exc:
        raise RenderFailed("(body)", f"refused by the sandbox: {exc}") from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise RenderFailed("(body)", str(exc)) from None


def _sample(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return None
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("type") == "object" or "properties" in schema:
        return {name: value for name, sub in (schema.get("properties") or {}).items()
                if (value := _sample(sub)) is not None}
    return None


def sample_variables(clauses: Iterable[ClauseSchema]) -> dict[str, Any]:
    """Variables for a preview, from the clauses' schemas: each property's first example, else
    its default, const or first enum value (objects built from theirs)."""
    sample: dict[str, Any] = {}
    for clause in clauses:
        for name, value in (_sample(clause.schema) or {}).items():
            if isinstance(value, dict) and isinstance(sample.get(name), dict):
                sample[name] = {**value, **sample[name]}
            else:
                sample.setdefault(name, value)
    return sample
