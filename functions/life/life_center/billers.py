"""Billers as configuration (billers.json) and the adapters that talk to them.

A biller is data: id, kind, name, the pattern of its customer numbers, its amount rules (a range, or the
denominations of a top-up), the name of its shared secret (SSM, through `config.secret`), its endpoint and
how long a payment may stay unanswered before a person looks at it. Adding a biller of a known kind is a
configuration change.

`BillerGateway` is what the center needs of a biller of any kind: query a bill, pay, ask a payment's status.
`HttpBillerGateway` speaks the generic signed JSON/HTTPS biller gateway (docs/decisions/0041); `FakeBiller`
(local run and tests) answers from the customer number, so every outcome can be asked for on purpose.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import msgspec

from bank_common import config
from bank_common.errors import ApiError, BusinessRuleViolation, NotFound
from bank_common.money import format_fen, parse_amount
from life_center import signing

CATALOG_FILE = Path(__file__).with_name("billers.json")
HTTP_TIMEOUT_SECONDS = 5.0


class BillerNotFound(NotFound):
    code, message = "BILLER_NOT_FOUND", "No such biller."


class BillNotFound(NotFound):
    code, message = "BILL_NOT_FOUND", "The biller knows no bill for this customer number."


class InvalidCustomerNumber(BusinessRuleViolation):
    code, message = "INVALID_CUSTOMER_NUMBER", "This is not a customer number of this biller."


class AmountNotAllowed(BusinessRuleViolation):
    code, message = "AMOUNT_NOT_ALLOWED", "The biller does not take this amount."


class BillerUnavailable(ApiError):
    status, code, message = 503, "BILLER_UNAVAILABLE", "The biller did not answer; try again later."


class BillerTimeout(Exception):
    """No answer in time: the outcome at the biller is unknown (never treated as a failure)."""


class Biller(msgspec.Struct, frozen=True, kw_only=True):
    biller_id: str
    kind: Literal["electricity", "water", "gas", "phone_topup", "property"]
    name: str
    customer_number_pattern: str
    callback_secret: str
    endpoint: str
    max_processing_hours: int
    min_amount: str | None = None
    max_amount: str | None = None
    denominations: list[str] | None = None

    @property
    def is_topup(self) -> bool:
        return self.denominations is not None

    def check_customer_number(self, number: str) -> None:
        if not re.fullmatch(self.customer_number_pattern, number):
            raise InvalidCustomerNumber()

    def check_amount(self, fen: int) -> None:
        if self.denominations is not None:
            if fen not in {parse_amount(d) for d in self.denominations}:
                raise AmountNotAllowed(details={"denominations": self.denominations})
            return
        low = parse_amount(self.min_amount) if self.min_amount else 1
        high = parse_amount(self.max_amount) if self.max_amount else None
        if fen < low or (high is not None and fen > high):
            raise AmountNotAllowed(details={"min_amount": self.min_amount, "max_amount": self.max_amount})


@cache
def catalog() -> dict[str, Biller]:
    billers = msgspec.json.decode(CATALOG_FILE.read_bytes(), type=list[Biller])
    return {b.biller_id: b for b in billers}


def biller(biller_id: str) -> Biller:
    found = catalog().get(biller_id)
    if found is None:
        raise BillerNotFound()
    return found


def secret_of(found: Biller) -> str:
    """The biller's shared secret: one SSM SecureString holds every biller's, by name."""
    secrets: dict[str, str] = json.loads(config.secret("LIFE_BILLER_SECRETS", "LIFE_BILLER_SECRETS_PARAM"))
    value = secrets.get(found.callback_secret)
    if not value:
        raise RuntimeError(f"no shared secret named {found.callback_secret!r}")
    return value


def mask_name(name: str) -> str:
    """张伟明 → 张*明, 李娜 → 李*: enough for a customer to recognise the payee, not to learn the name."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@dataclass(frozen=True)
class Bill:
    payee_name: str  # as the biller has it (masked before it leaves the center)
    amount_due: int | None  # fen; None for a top-up
    due_date: str | None = None


@dataclass(frozen=True)
class BillerResult:
    status: Literal["succeeded", "failed", "processing"]
    biller_ref: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class PaymentOrder:
    """What a biller is told about a payment."""

    order_no: str
    customer_number: str
    amount: int  # fen


class BillerGateway(Protocol):
    def query(self, found: Biller, customer_number: str) -> Bill: ...

    def pay(self, found: Biller, order: PaymentOrder) -> BillerResult: ...

    def status(self, found: Biller, order: PaymentOrder) -> BillerResult: ...


class HttpBillerGateway:
    """The generic biller gateway: JSON over HTTPS, each request signed like the callbacks (signing.py).

    POST {endpoint}/bills/query {customer_number} → {payee_name, amount_due|null, due_date}
    POST {endpoint}/payments {order_no, customer_number, amount} → {status, biller_ref, reason}
    GET  {endpoint}/payments/{order_no} → {status, biller_ref, reason}  (404: never received)
    Amounts are decimal strings; `status` is succeeded | failed | processing. The biller deduplicates
    payments by order_no, so sending one again (after a timeout) is safe.
    """

    def __init__(self, opener: Any = None) -> None:
        self.opener = opener or urllib.request.urlopen

    def _call(self, found: Biller, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any] | None:
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        request = urllib.request.Request(  # noqa: S310 - the configured https endpoint of the biller
            found.endpoint + path, data=body or None, method=method,
            headers={"Content-Type": "application/json", **signing.headers(secret_of(found), body)})
        try:
            with self.opener(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code >= 500:
                raise BillerTimeout(f"biller answered {exc.code}") from exc
            raise BillerUnavailable(f"The biller refused the request ({exc.code}).") from exc
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            raise BillerTimeout(str(exc)) from exc

    def query(self, found: Biller, customer_number: str) -> Bill:
        try:
            answer = self._call(found, "POST", "/bills/query", {"customer_number": customer_number})
        except BillerTimeout as exc:
            raise BillerUnavailable() from exc
        if answer is None:
            raise BillNotFound()
        due = answer.get("amount_due")
        return Bill(str(answer.get("payee_name", "")), None if due is None else parse_amount(due),
                    answer.get("due_date"))

    def pay(self, found: Biller, order: PaymentOrder) -> BillerResult:
        answer = self._call(found, "POST", "/payments", {"order_no": order.order_no,
                                                         "customer_number": order.customer_number,
                                                         "amount": format_fen(order.amount)})
        return _result(answer)

    def status(self, found: Biller, order: PaymentOrder) -> BillerResult:
        answer = self._call(found, "GET", f"/payments/{order.order_no}", None)
        if answer is None:  # never received: the poller sends it again (the biller deduplicates by order_no)
            return BillerResult("processing", reason="not_received")
        return _result(answer)


def _result(answer: dict[str, Any] | None) -> BillerResult:
    status = (answer or {}).get("status")
    if status not in ("succeeded", "failed", "processing"):
        raise BillerTimeout(f"unreadable biller answer: {status!r}")
    return BillerResult(status, (answer or {}).get("biller_ref"), (answer or {}).get("reason"))


FAKE_NAMES = ("张伟明", "李娜", "王小红", "陈建国", "刘芳华", "赵敏")


class FakeBiller:
    """A biller that answers from the customer number's last digit (local run and tests only):

    9 refuses the payment · 8 times out, a status query then says succeeded · 7 times out and never answers ·
    6 times out, then says failed · 5 accepts (processing), then says succeeded · 4 has no bill ·
    anything else pays at once. Amounts due are derived from the number, so they are stable.
    """

    @staticmethod
    def _ref(order_no: str) -> str:
        return "FB" + hashlib.sha256(order_no.encode()).hexdigest()[:14].upper()

    def query(self, found: Biller, customer_number: str) -> Bill:
        digest = int(hashlib.sha256(f"{found.biller_id}#{customer_number}".encode()).hexdigest(), 16)
        name = FAKE_NAMES[digest % len(FAKE_NAMES)]
        if found.is_topup:
            return Bill(name, None)
        if customer_number.endswith("4"):
            raise BillNotFound()
        return Bill(name, 1_000 + digest % 49_000, "2026-12-15")

    def pay(self, found: Biller, order: PaymentOrder) -> BillerResult:
        last = order.customer_number[-1]
        if last == "9":
            return BillerResult("failed", self._ref(order.order_no), "account_closed")
        if last in "876":
            raise BillerTimeout("fake biller: no answer")
        if last == "5":
            return BillerResult("processing", self._ref(order.order_no))
        return BillerResult("succeeded", self._ref(order.order_no))

    def status(self, found: Biller, order: PaymentOrder) -> BillerResult:
        last = order.customer_number[-1]
        if last == "7":
            return BillerResult("processing")
        if last in "69":
            return BillerResult("failed", self._ref(order.order_no), "account_closed")
        return BillerResult("succeeded", self._ref(order.order_no))


@cache
def gateway() -> BillerGateway:
    """The adapter the configuration names (BILLER_GATEWAY: http in AWS, fake in the local run and tests)."""
    if config.env("BILLER_GATEWAY", "http") == "fake":
        return FakeBiller()
    return HttpBillerGateway()
