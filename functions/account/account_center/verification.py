"""Verifying a Type II/III account's binding with the bank that issued the bound card (PBOC 银发〔2016〕302号:
an account opened online is bound to the customer's own Type I account or card, confirmed by its bank).

Adapters: Tencent Cloud FaceID's four-element bank card verification (`BankCard4EVerification`: card
number, name, ID number, mobile as registered with the issuing bank, answered through UnionPay), and a fake
for the local run and tests. Chosen by `BINDING_VERIFIER` (tencent | fake). The answer is one of:

- VERIFIED: the issuing bank confirmed the four elements;
- MISMATCH: it answered that they do not match (or the card cannot be used): the binding is refused;
- UNAVAILABLE: no answer (busy, over quota, timeout): the account opens suspended until verified again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from bank_common import config, obs

VERIFIED, MISMATCH, UNAVAILABLE = "verified", "mismatch", "unavailable"


@dataclass(frozen=True)
class CardHolder:
    card_number: str
    name: str
    id_number: str
    mobile: str


class BindingVerifier(Protocol):
    def verify(self, holder: CardHolder) -> str:
        """VERIFIED, MISMATCH or UNAVAILABLE."""


def luhn_ok(number: str) -> bool:
    """The card number's last digit is its Luhn check digit (ISO/IEC 7812)."""
    digits = [int(d) for d in number]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 1:
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        total += digit
    return total % 10 == 0


class FakeBindingVerifier:
    """The local run's and the tests' stand-in for the issuing banks, by the card's second-to-last digit:
    0 → MISMATCH, 9 → UNAVAILABLE (until FAKE_VERIFIER_BACK_ONLINE=1: the bank answers again), anything else
    → VERIFIED (the last digit is the Luhn check digit)."""

    def verify(self, holder: CardHolder) -> str:
        marker = holder.card_number[-2]
        if marker == "9" and os.environ.get("FAKE_VERIFIER_BACK_ONLINE") != "1":
            return UNAVAILABLE
        return MISMATCH if marker == "0" else VERIFIED


# Tencent Cloud FaceID `Result` codes: "0" passed; "-2".."-5" and "-18".."-20" are not billed and mean the
# check did not happen (bad format, busy, over quota, unsupported document); every other code is the issuing
# bank's "no" (mismatch, lost, expired, restricted card, ...).
TENCENT_NOT_CHECKED = frozenset({"-2", "-3", "-4", "-5", "-18", "-19", "-20"})


class TencentBankCardVerifier:
    """Tencent Cloud FaceID `BankCard4EVerification` (API version 2018-03-01), signed with TC3-HMAC-SHA256.

    Credentials: an SSM SecureString (`TENCENT_FACEID_SECRET_PARAM`) holding {"secret_id", "secret_key"}.
    `send(url, headers, body) -> (status, body)` is injectable for tests (recorded vendor answers)."""

    HOST = "faceid.tencentcloudapi.com"
    SERVICE, ACTION, VERSION = "faceid", "BankCard4EVerification", "2018-03-01"

    def __init__(self, secret_id: str, secret_key: str, send: Any = None, timeout: float = 5.0) -> None:
        self.secret_id, self.secret_key = secret_id, secret_key
        self.send = send or self._urlopen
        self.timeout = timeout

    def verify(self, holder: CardHolder) -> str:
        body = json.dumps({"Name": holder.name, "BankCard": holder.card_number, "Phone": holder.mobile,
                           "IdCard": holder.id_number, "CertType": 0}, ensure_ascii=False, separators=(",", ":"))
        try:
            status, raw = self.send(f"https://{self.HOST}/", self.headers(body, int(time.time())), body.encode())
            answer = json.loads(raw).get("Response") or {}
        except Exception:  # noqa: BLE001 - no answer is UNAVAILABLE: the account opens suspended
            obs.log().warning("binding verification: no answer from the vendor")
            return UNAVAILABLE
        if status != 200 or "Error" in answer:
            obs.log().warning("binding verification refused by the vendor",
                              extra={"vendor_error": (answer.get("Error") or {}).get("Code"), "status": status})
            return UNAVAILABLE
        result = str(answer.get("Result"))
        if result == "0":
            return VERIFIED
        return UNAVAILABLE if result in TENCENT_NOT_CHECKED else MISMATCH

    def headers(self, body: str, timestamp: int) -> dict[str, str]:
        """Tencent Cloud API 3.0 signature v3 (TC3-HMAC-SHA256) over POST / with a JSON body."""
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        content_type = "application/json; charset=utf-8"
        canonical = "\n".join(["POST", "/", "", f"content-type:{content_type}\nhost:{self.HOST}\n",
                               "content-type;host", hashlib.sha256(body.encode()).hexdigest()])
        scope = f"{date}/{self.SERVICE}/tc3_request"
        to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])

        def mac(key: bytes, text: str) -> bytes:
            return hmac.new(key, text.encode(), hashlib.sha256).digest()

        signing = mac(mac(mac(("TC3" + self.secret_key).encode(), date), self.SERVICE), "tc3_request")
        signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
        return {"Authorization": f"TC3-HMAC-SHA256 Credential={self.secret_id}/{scope}, "
                                 f"SignedHeaders=content-type;host, Signature={signature}",
                "Content-Type": content_type, "Host": self.HOST, "X-TC-Action": self.ACTION,
                "X-TC-Version": self.VERSION, "X-TC-Timestamp": str(timestamp)}

    def _urlopen(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        import urllib.request

        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - fixed https URL
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return int(response.status), response.read()


@cache
def verifier() -> BindingVerifier:
    if os.environ.get("BINDING_VERIFIER", "tencent") == "fake":
        return FakeBindingVerifier()
    secret = json.loads(config.secret("TENCENT_FACEID_SECRET", "TENCENT_FACEID_SECRET_PARAM"))
    return TencentBankCardVerifier(secret["secret_id"], secret["secret_key"])
