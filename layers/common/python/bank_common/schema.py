"""Request and response schemas: msgspec Structs, validated and rendered as JSON Schema in one place.

Why msgspec and not pydantic: pydantic's import plus building one model's validator cost ~60 ms of every
cold start here (docs/decisions/0006); msgspec declares the same constraints (types, lengths, patterns,
enums, unknown fields refused) and imports in ~6 ms on top of botocore.

A center's schemas subclass `Strict` (requests) or `Out` (responses). Money in a request is typed
`money.Amount` (a decimal string on the wire, integer fen after decoding); money in a response is a
`MoneyText` string made with `money.format_fen`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import msgspec

from bank_common import idempotency, money
from bank_common.errors import ApiError, InvalidAmount, ValidationFailed

Meta = msgspec.Meta


def anchored(body: str) -> str:
    """A pattern for the whole value, meaning the same to msgspec (Python's `re.search`) and to JSON
    Schema readers (ECMA-262: channels, schemathesis). A bare `$` lets Python accept one trailing newline
    ("13800000001\\n" would register a second customer), so the end is pinned by a lookahead both read as
    "nothing follows"."""
    return f"^(?:{body})$(?!\\n)"


MoneyText = Annotated[str, Meta(pattern=anchored(r"-?[0-9]+\.[0-9]{2}"), examples=["125.50"])]
# A mainland China mobile number: 11 digits, optionally written with the +86 country code.
Mobile = Annotated[str, Meta(pattern=anchored(r"(?:\+86)?1[3-9][0-9]{9}"), examples=["13912345678"],
                             description="Mainland China mobile number: 11 digits, optionally after +86.")]
# Passwords a customer chooses: 8-64 printable ASCII characters with at least one letter and one digit.
NewPassword = Annotated[str, Meta(
    min_length=8, max_length=64,
    pattern=anchored(r"[!-~]*[A-Za-z][!-~]*[0-9][!-~]*|[!-~]*[0-9][!-~]*[A-Za-z][!-~]*"),
    description="8-64 printable ASCII characters (no spaces), at least one letter and one digit.")]

# The X-Device-Id header: the client's device fingerprint, to which a session and its tokens are bound.
DeviceId = Annotated[str, Meta(min_length=1, max_length=128, pattern=anchored(r"[A-Za-z0-9_:.-]+"),
                               description="The client's device fingerprint: sent with every request of a "
                                           "session, which is bound to it.")]

# The Idempotency-Key header of money-moving operations (bank_common.idempotency.require_key enforces it).
IdempotencyKey = Annotated[str, Meta(
    min_length=idempotency.KEY_MIN, max_length=idempotency.KEY_MAX, pattern=anchored(idempotency.KEY_CHARS),
    description="8-128 characters: letters, digits, '_', '-', '.', ':' (starting with a letter or digit). "
                "The same key with the same body replays the first response.")]


def canonical_mobile(mobile: str) -> str:
    """The one form a mobile number is stored, claimed and logged in under: 11 digits."""
    return mobile.removeprefix("+86")


class Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of request bodies: unknown fields are refused (and strings are taken as sent, not stripped)."""


class Out(msgspec.Struct, kw_only=True):
    """Base of response bodies."""


def field_error(field: str, problem: str) -> ValueError:
    """For a struct's `__post_init__` check: msgspec reports it like a built-in constraint."""
    return ValueError(f"{problem} - at `$.{field}`")


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is money.Amount:
        return money.Amount(money.parse_amount(value))
    raise NotImplementedError(f"no decoder for {kind!r}")


def _enc_hook(value: Any) -> Any:
    if isinstance(value, money.Amount):
        return int(value)
    raise NotImplementedError(f"no encoder for {type(value)!r}")


def _schema_hook(kind: type) -> dict[str, Any]:
    if kind is money.Amount:
        return dict(money.AMOUNT_SCHEMA)
    raise NotImplementedError(f"no JSON schema for {kind!r}")


def _integral(data: Any) -> Any:
    """JSON numbers with a zero fraction (2923.0) as ints: JSON Schema counts them as integers, so an integer
    field must accept them (msgspec's strict conversion would not)."""
    if isinstance(data, float) and data.is_integer() and abs(data) < 2**63:
        return int(data)
    if isinstance(data, dict):
        return {k: _integral(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_integral(v) for v in data]
    return data


def decode[T](data: Any, model: type[T]) -> T:
    """Validate a parsed JSON object against `model`; a 400 naming the field and the rule otherwise."""
    try:
        return msgspec.convert(data, model, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        if "got `float`" in str(exc):  # perhaps only 2923.0 for an integer: again with integral floats as ints
            try:
                return msgspec.convert(_integral(data), model, dec_hook=_dec_hook)
            except msgspec.ValidationError as again:  # something else is wrong too: say that
                raise _explain(again) from again
            except RecursionError:
                pass
        raise _explain(exc) from exc


def decode_value[T](value: Any, kind: type[T], name: str) -> T:
    """One query or path parameter (a string) as its declared type ("20" → 20 for an int); 400 otherwise."""
    try:
        return msgspec.convert(value, kind, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"The parameter {name} is not valid.",
                               details=[{"field": name, "problem": str(exc).split(" - at ")[0]}]) from exc


def _explain(exc: msgspec.ValidationError) -> ApiError:
    # msgspec stops at the first problem: "<problem> - at `$.field`" or "... field `x`" for unknown/missing.
    message = str(exc)
    problem, sep, where = message.rpartition(" - at `$.")
    if sep:
        field = where.rstrip("`").split("[")[0].split(".")[0]
    else:
        problem, field = message, message.rpartition("`")[0].rpartition("`")[2]
    details = [{"field": field, "problem": problem}]
    if isinstance(exc.__cause__, money.AmountError):
        return InvalidAmount(details=details)
    return ValidationFailed(details=details)


def to_builtins(obj: Any) -> Any:
    """A response struct (or anything holding them) as plain JSON-ready Python values."""
    return msgspec.to_builtins(obj, enc_hook=_enc_hook)


def value_schema(kind: Any) -> dict[str, Any]:
    """JSON Schema of one parameter's type (inline: parameters have no components of their own)."""
    return dict(msgspec.json.schema(kind, schema_hook=_schema_hook))


def json_schemas(models: Iterable[type]) -> dict[str, Any]:
    """JSON Schema (OpenAPI 3.1) of the models and everything they reference, keyed by name."""
    models = list(models)
    _, components = msgspec.json.schema_components(
        models, schema_hook=_schema_hook, ref_template="#/components/schemas/{name}")
    for model in models:
        # A rule across fields that a struct checks in __post_init__ (e.g. "this provider needs that field"),
        # stated for the document's readers and generators as JSON Schema alternatives.
        alternatives = getattr(model, "__schema_any_of__", None)
        if alternatives and model.__name__ in components:
            components[model.__name__]["anyOf"] = alternatives
    return components
