"""The clearing adapter: transfers to and from other banks as ISO 20022 messages (the format of the PBOC's
second-generation payment system, CNAPS2), exchanged with the bank's clearing front-end processor (FEP).

- out: a customer credit transfer (pacs.008) per outbound transfer, POSTed to the FEP, which acknowledges it
  at once (pacs.002 ACTC: accepted for processing, or RJCT: refused as it stands);
- in, on the clearing inbound queue (the FEP delivers there): the final status of our transfers (pacs.002:
  ACSC settled, RJCT returned by the receiving bank) and other banks' credit transfers to our customers
  (pacs.008); a credit we cannot take goes back as a payment return (pacs.004).

Adapters, chosen by `CLEARING_GATEWAY` (fep | fake): `FepClearingGateway` over HTTPS to `CLEARING_FEP_URL`, and
`FakeClearingHouse` for the local run and tests, which settles, returns, or settles late (see its doc).
Every message id is our instruction id (the hold id), so the FEP and the clearing house discard duplicates.
"""

from __future__ import annotations

import json
import os
import random
import xml.etree.ElementTree as ET  # noqa: S405 - only our own messages and the FEP's are parsed
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any, Protocol

from bank_common import obs, pii
from bank_common.money import format_fen

NS = {
    "pacs.008": "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08",
    "pacs.002": "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10",
    "pacs.004": "urn:iso:std:iso:20022:tech:xsd:pacs.004.001.09",
}
# Rejection reasons (ISO 20022 ExternalStatusReason1Code) the fake uses and the processing names.
REASONS = {"AC04": "closed account number", "AC01": "incorrect account number", "AM04": "insufficient funds",
           "AG01": "transaction forbidden", "MS03": "reason not specified"}


def bank_code() -> str:
    """This bank's CNAPS participant code."""
    return os.environ.get("BANK_CNAPS_CODE", "314653000011")


@dataclass(frozen=True)
class Instruction:
    """One outbound transfer, as the clearing system needs it."""

    instruction_id: str
    created_at: str
    amount: int  # fen
    debtor_account: str
    debtor_id: str
    creditor_bank: str
    creditor_account: str
    creditor_name: str
    memo: str


@dataclass(frozen=True)
class Receipt:
    """A message from the clearing system: the status of one of ours, or a credit to one of our customers."""

    kind: str  # settled | returned | credit
    message_id: str
    instruction_id: str = ""  # settled / returned: our instruction
    reason: str = ""
    amount: int = 0  # credit
    to_account: str = ""
    from_bank: str = ""
    from_account: str = ""
    from_name: str = ""
    memo: str = ""


def _el(parent: ET.Element, path: str, text: str | None = None, **attrs: str) -> ET.Element:
    """The element at `path` under `parent`: intermediate elements reused, the last one new."""
    node = parent
    names = path.split("/")
    for i, name in enumerate(names):
        found = node.find(name) if i < len(names) - 1 else None
        node = found if found is not None else ET.SubElement(node, name)
    if text is not None:
        node.text = text
    node.attrib.update(attrs)
    return node


def _yuan(fen: int) -> str:
    return format_fen(fen)


def credit_transfer(message_id: str, created_at: str, amount: int, *, debtor_bank: str, debtor_account: str,
                    debtor_name: str, debtor_id: str, creditor_bank: str, creditor_account: str, creditor_name: str,
                    memo: str) -> str:
    """A pacs.008 FIToFICustomerCreditTransfer with one transaction (ours out, or another bank's in)."""
    root = ET.Element("Document", xmlns=NS["pacs.008"])
    body = ET.SubElement(root, "FIToFICstmrCdtTrf")
    _el(body, "GrpHdr/MsgId", message_id)
    _el(body, "GrpHdr/CreDtTm", created_at)
    _el(body, "GrpHdr/NbOfTxs", "1")
    _el(body, "GrpHdr/SttlmInf/SttlmMtd", "CLRG")
    tx = ET.SubElement(body, "CdtTrfTxInf")
    _el(tx, "PmtId/InstrId", message_id)
    _el(tx, "PmtId/EndToEndId", message_id)
    _el(tx, "IntrBkSttlmAmt", _yuan(amount), Ccy="CNY")
    _el(tx, "ChrgBr", "SLEV")
    debtor = _el(tx, "Dbtr")
    if debtor_name:
        _el(debtor, "Nm", debtor_name)
    if debtor_id:
        _el(debtor, "Id/PrvtId/Othr/Id", debtor_id)
    _el(tx, "DbtrAcct/Id/Othr/Id", debtor_account)
    _el(tx, "DbtrAgt/FinInstnId/ClrSysMmbId/MmbId", debtor_bank)
    _el(tx, "CdtrAgt/FinInstnId/ClrSysMmbId/MmbId", creditor_bank)
    _el(tx, "Cdtr/Nm", creditor_name)
    _el(tx, "CdtrAcct/Id/Othr/Id", creditor_account)
    if memo:
        _el(tx, "RmtInf/Ustrd", memo)
    return ET.tostring(root, encoding="unicode")


def status_report(message_id: str, instruction_id: str, status: str, reason: str = "") -> str:
    """A pacs.002 FIToFIPmtStsRpt for one of our instructions: ACTC, ACSC or RJCT (with a reason code)."""
    root = ET.Element("Document", xmlns=NS["pacs.002"])
    body = ET.SubElement(root, "FIToFIPmtStsRpt")
    _el(body, "GrpHdr/MsgId", message_id)
    _el(body, "GrpHdr/CreDtTm", datetime.now(UTC).isoformat())
    tx = ET.SubElement(body, "TxInfAndSts")
    _el(tx, "OrgnlInstrId", instruction_id)
    _el(tx, "TxSts", status)
    if reason:
        _el(tx, "StsRsnInf/Rsn/Cd", reason)
    return ET.tostring(root, encoding="unicode")


def payment_return(message_id: str, original: Receipt, reason: str) -> str:
    """A pacs.004 PaymentReturn of another bank's credit we cannot take."""
    root = ET.Element("Document", xmlns=NS["pacs.004"])
    body = ET.SubElement(root, "PmtRtr")
    _el(body, "GrpHdr/MsgId", message_id)
    _el(body, "GrpHdr/CreDtTm", datetime.now(UTC).isoformat())
    _el(body, "GrpHdr/NbOfTxs", "1")
    tx = ET.SubElement(body, "TxInf")
    _el(tx, "RtrId", message_id)
    _el(tx, "OrgnlInstrId", original.message_id)
    _el(tx, "RtrdIntrBkSttlmAmt", _yuan(original.amount), Ccy="CNY")
    _el(tx, "RtrRsnInf/Rsn/Cd", reason)
    return ET.tostring(root, encoding="unicode")


def _text(node: ET.Element, path: str, ns: str) -> str:
    found = node.find("/".join(f"{{{ns}}}{p}" for p in path.split("/")))
    return (found.text or "").strip() if found is not None else ""


class UnreadableMessage(ValueError):
    pass


def parse(message: str) -> Receipt:
    """A message from the clearing inbound queue as a Receipt."""
    try:
        root = ET.fromstring(message)  # noqa: S314 - messages from the FEP; no entities are declared
    except ET.ParseError as exc:
        raise UnreadableMessage("not an XML document") from exc
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    if ns == NS["pacs.002"]:
        status = _text(root, "FIToFIPmtStsRpt/TxInfAndSts/TxSts", ns)
        kinds = {"ACSC": "settled", "RJCT": "returned"}
        if status not in kinds:
            raise UnreadableMessage(f"status {status!r} is not final")
        return Receipt(kinds[status], _text(root, "FIToFIPmtStsRpt/GrpHdr/MsgId", ns),
                       instruction_id=_text(root, "FIToFIPmtStsRpt/TxInfAndSts/OrgnlInstrId", ns),
                       reason=_text(root, "FIToFIPmtStsRpt/TxInfAndSts/StsRsnInf/Rsn/Cd", ns))
    if ns == NS["pacs.008"]:
        tx = "FIToFICstmrCdtTrf/CdtTrfTxInf"
        amount = Decimal(_text(root, f"{tx}/IntrBkSttlmAmt", ns) or "0")
        return Receipt("credit", _text(root, "FIToFICstmrCdtTrf/GrpHdr/MsgId", ns), amount=int(amount * 100),
                       to_account=_text(root, f"{tx}/CdtrAcct/Id/Othr/Id", ns),
                       from_bank=_text(root, f"{tx}/DbtrAgt/FinInstnId/ClrSysMmbId/MmbId", ns),
                       from_account=_text(root, f"{tx}/DbtrAcct/Id/Othr/Id", ns),
                       from_name=_text(root, f"{tx}/Dbtr/Nm", ns), memo=_text(root, f"{tx}/RmtInf/Ustrd", ns))
    raise UnreadableMessage(f"unexpected message type {ns!r}")


def instruction_message(instruction: Instruction) -> str:
    return credit_transfer(instruction.instruction_id, instruction.created_at, instruction.amount,
                           debtor_bank=bank_code(), debtor_account=instruction.debtor_account, debtor_name="",
                           debtor_id=instruction.debtor_id, creditor_bank=instruction.creditor_bank,
                           creditor_account=instruction.creditor_account, creditor_name=instruction.creditor_name,
                           memo=instruction.memo)


class ClearingGateway(Protocol):
    def submit(self, instruction: Instruction) -> bool:
        """Hand an instruction over; True when accepted for processing, False when refused as it stands."""

    def return_credit(self, credit: Receipt, reason: str) -> None:
        """Send another bank's credit back (pacs.004)."""


class FepClearingGateway:
    """The bank's clearing front-end processor over HTTPS: each message POSTed as XML, the acknowledgement
    (pacs.002) read from the answer. `send(url, body) -> (status, body)` is injectable (recorded answers)."""

    def __init__(self, url: str, send: Any = None, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.send = send or self._post
        self.timeout = timeout

    def submit(self, instruction: Instruction) -> bool:
        status, body = self.send(f"{self.url}/pacs.008", instruction_message(instruction).encode())
        if status >= 500:
            raise ConnectionError(f"the FEP answered {status}")  # nothing decided: the queue retries
        root = ET.fromstring(body)  # noqa: S314 - the FEP's answer
        ack = _text(root, "FIToFIPmtStsRpt/TxInfAndSts/TxSts", NS["pacs.002"])
        if ack not in ("ACTC", "ACSP", "ACSC", "PDNG", "RJCT"):
            raise ConnectionError(f"the FEP acknowledged {ack!r}")
        return ack != "RJCT"

    def return_credit(self, credit: Receipt, reason: str) -> None:
        message = payment_return("R" + credit.message_id[:34], credit, reason)
        status, _ = self.send(f"{self.url}/pacs.004", message.encode())
        if status >= 300:
            raise ConnectionError(f"the FEP answered {status} to a return")

    def _post(self, url: str, body: bytes) -> tuple[int, bytes]:
        import urllib.request

        request = urllib.request.Request(url, data=body, method="POST",  # noqa: S310 - the configured FEP URL
                                         headers={"Content-Type": "application/xml; charset=utf-8"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return int(response.status), response.read()


class FakeClearingHouse:
    """The local run's and the tests' clearing house (never deployed: CLEARING_GATEWAY=fake is only set by
    them). It accepts every instruction and, by the creditor account's second-to-last digit, later delivers
    to the inbound queue (FAKE_CLEARING_RECEIPTS_URL):
    - 0: a return (pacs.002 RJCT, AC04 closed account);
    - 9: a late settlement (ACSC after FAKE_CLEARING_LATE_SECONDS, default 30);
    - anything else: a settlement (ACSC) at once.
    With FAKE_CLEARING_DUPLICATES=<probability> it delivers some receipts twice, as a network may.
    Its SQS calls are its own (a session apart from the function's): it plays another party."""

    def submit(self, instruction: Instruction) -> bool:
        marker = instruction.creditor_account[-2]
        status, reason, delay = ("RJCT", "AC04", 0) if marker == "0" else \
            ("ACSC", "", int(os.environ.get("FAKE_CLEARING_LATE_SECONDS", "30"))) if marker == "9" else ("ACSC", "", 0)
        receipt = status_report("S" + instruction.instruction_id[:34], instruction.instruction_id, status, reason)
        copies = 2 if random.random() < float(os.environ.get("FAKE_CLEARING_DUPLICATES", "0")) else 1
        for _ in range(copies):
            self._deliver(receipt, delay)
        obs.log().info("fake clearing house took an instruction",
                       extra={"instruction": instruction.instruction_id, "outcome": status, "delay_s": delay})
        return True

    def return_credit(self, credit: Receipt, reason: str) -> None:
        obs.log().info("fake clearing house got a return", extra={
            "clearing_message": credit.message_id, "reason": reason, "account": pii.mask_text(credit.to_account)})

    @staticmethod
    def _deliver(body: str, delay: int) -> None:
        url = os.environ.get("FAKE_CLEARING_RECEIPTS_URL")
        if not url:
            raise RuntimeError("FAKE_CLEARING_RECEIPTS_URL is not set: where the fake delivers receipts")
        _own_sqs().send_message(QueueUrl=url, MessageBody=body, DelaySeconds=min(delay, 900))


def _own_sqs() -> Any:
    import botocore.session

    return botocore.session.get_session().create_client("sqs")


@cache
def gateway() -> ClearingGateway:
    if os.environ.get("CLEARING_GATEWAY", "fep") == "fake":
        return FakeClearingHouse()
    return FepClearingGateway(os.environ["CLEARING_FEP_URL"])


def describe(receipt: Receipt) -> str:
    return json.dumps({"kind": receipt.kind, "message": receipt.message_id, "instruction": receipt.instruction_id})
