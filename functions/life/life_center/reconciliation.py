"""The daily reconciliation with a biller's file (T+1, Asia/Shanghai business date; docs/decisions/0042).

The file `<biller_id>/<YYYY-MM-DD>.csv` in the biller files bucket: a header `order_no,biller_ref,amount,status`,
one line per payment the biller took that day (amount a decimal string, status succeeded | failed), and a
last line `TOTAL,<lines>,<sum of the lines' amounts>`.

Each order of ours that day and each line of the file ends in one category, with the action it asks for:
- matched: both sides agree (succeeded and the same amount; or failed / refunded on ours and failed there).
- long (长款, the biller has it, we don't): a line succeeded there, while we have no such order or ours
  failed and was refunded → recover the money from the biller (ops raise a claim; nothing moves here).
- short (短款, we have it, the biller doesn't): ours succeeded, the file has no succeeded line → ask the
  biller to credit the customer or return the money; ops refund the customer only on the biller's word.
- amount_mismatch: both succeeded, other amounts → investigate.
- doubtful: ours not final (paid, processing, review) → carried to T+2: the next day's run looks again at
  the order and this line, and what is still not final then is escalated to ops.
Totals: the file's declared total against its lines, and the succeeded sums of both sides.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bank_common import aws, config, obs, schema
from bank_common.money import format_fen, parse_amount
from life_center import billers, store
from life_center.schemas import ReconciliationOut, ReconItem, ReconTotals

HEADER = ["order_no", "biller_ref", "amount", "status"]
NOT_FINAL = ("pending", "paid", "processing", "review")
ACTIONS = {
    "long": "recover_from_biller",
    "short": "claim_from_biller",
    "amount_mismatch": "investigate",
    "doubtful": "carry_to_t_plus_2",
    "escalated": "ops_review",
    "resolved": "none",
    "matched": "none",
}


class FileInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Line:
    order_no: str
    biller_ref: str
    amount: int  # fen
    status: str


@dataclass(frozen=True)
class BillerFile:
    lines: list[Line]
    declared_count: int | None
    declared_total: int | None  # fen


@dataclass(frozen=True)
class Ours:
    order_no: str
    status: str
    amount: int


def parse_file(text: str) -> BillerFile:
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if not rows or [c.strip() for c in rows[0]] != HEADER:
        raise FileInvalid("the first line must be " + ",".join(HEADER))
    lines: list[Line] = []
    declared_count = declared_total = None
    for number, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row]
        if cells[0] == "TOTAL":
            if len(cells) != 3 or number != len(rows) or not cells[1].isdigit():
                raise FileInvalid(f"line {number}: TOTAL,<lines>,<amount> must be the last line")
            declared_count = int(cells[1])
            declared_total = 0 if cells[2] in ("0", "0.0", "0.00") else _fen(cells[2], number)
            continue
        if len(cells) != 4 or cells[3] not in ("succeeded", "failed") or not cells[0]:
            raise FileInvalid(f"line {number}: order_no,biller_ref,amount,status expected")
        lines.append(Line(cells[0], cells[1], _fen(cells[2], number), cells[3]))
    if len({line.order_no for line in lines}) != len(lines):
        raise FileInvalid("an order appears twice")
    return BillerFile(lines, declared_count, declared_total)


def _fen(text: str, number: int) -> int:
    try:
        return parse_amount(text)
    except ValueError as exc:
        raise FileInvalid(f"line {number}: {exc}") from exc


def classify(ours: Ours | None, line: Line | None) -> str:
    """One order and/or one line → its category."""
    if ours is not None and ours.status in NOT_FINAL:
        return "doubtful"
    ours_paid = ours is not None and ours.status == "succeeded"
    theirs_paid = line is not None and line.status == "succeeded"
    if ours_paid and theirs_paid:
        return "matched" if ours.amount == line.amount else "amount_mismatch"  # type: ignore[union-attr]
    if theirs_paid:
        return "long"
    if ours_paid:
        return "short"
    return "matched"  # neither side has the money: failed / refunded / refused here, failed or absent there


def item(category: str, ours: Ours | None, line: Line | None, order_no: str) -> ReconItem:
    return ReconItem(order_no=order_no, category=category, action=ACTIONS[category],  # type: ignore[arg-type]
                     ours_status=ours.status if ours else None,
                     ours_amount=format_fen(ours.amount) if ours else None,
                     biller_status=line.status if line else None,
                     biller_amount=format_fen(line.amount) if line else None,
                     biller_ref=line.biller_ref if line else None)


def match(biller_id: str, business_date: str, file: BillerFile, ours: list[Ours],
          carried: list[tuple[Ours | None, Line | None, str]], created_at: str) -> ReconciliationOut:
    """The report of one day: every order and line in a category; `carried` are the doubtful items of the
    day before, looked at again (now final → resolved or their category; still not final → escalated)."""
    lines = {line.order_no: line for line in file.lines}
    mine = {o.order_no: o for o in ours}
    items: list[ReconItem] = []
    counts: dict[str, int] = {}
    for order_no in sorted(set(lines) | set(mine)):
        category = classify(mine.get(order_no), lines.get(order_no))
        counts[category] = counts.get(category, 0) + 1
        if category != "matched":
            items.append(item(category, mine.get(order_no), lines.get(order_no), order_no))
    for order_now, line, order_no in carried:
        category = classify(order_now, line)
        category = {"doubtful": "escalated", "matched": "resolved"}.get(category, category)
        counts[f"carried_{category}"] = counts.get(f"carried_{category}", 0) + 1
        items.append(item(category, order_now, line, order_no))
    computed = sum(line.amount for line in file.lines)
    total_ok = file.declared_total == computed and file.declared_count == len(file.lines)
    theirs_paid = sum(line.amount for line in file.lines if line.status == "succeeded")
    ours_paid = sum(o.amount for o in ours if o.status == "succeeded")
    totals = ReconTotals(file_lines=len(file.lines),
                         file_total_declared=None if file.declared_total is None else format_fen(file.declared_total),
                         file_total_computed=format_fen(computed), file_total_ok=total_ok,
                         biller_succeeded=format_fen(theirs_paid), ours_succeeded=format_fen(ours_paid),
                         difference=format_fen(theirs_paid - ours_paid))
    exceptions = any(i.category not in ("resolved",) for i in items) or not total_ok
    next_run = (date.fromisoformat(business_date) + timedelta(days=1)).isoformat()
    return ReconciliationOut(biller_id=biller_id, business_date=business_date,
                             status="exceptions" if exceptions else "balanced", totals=totals, counts=counts,
                             items=items, carried_to=next_run if counts.get("doubtful") else None,
                             created_at=created_at)


def yesterday(now: datetime | None = None) -> str:
    from life_center.orders import business_date

    return (date.fromisoformat(business_date(now or datetime.now(UTC))) - timedelta(days=1)).isoformat()


def read_file(biller_id: str, business_date: str) -> str | None:
    s3 = aws.client("s3")
    try:
        response = s3.get_object(Bucket=config.env("BILLER_FILES_BUCKET"), Key=f"{biller_id}/{business_date}.csv")
    except s3.exceptions.NoSuchKey:
        return None
    return str(response["Body"].read().decode("utf-8"))


def _carried(biller_id: str, business_date: str) -> list[tuple[Ours | None, Line | None, str]]:
    """The doubtful items of the day before, with the order as it is now and the line they had."""
    previous = (date.fromisoformat(business_date) - timedelta(days=1)).isoformat()
    stored = store.get_report(biller_id, previous)
    if stored is None:
        return []
    carried = []
    for old in json.loads(stored.report).get("items", []):
        if old["category"] != "doubtful":
            continue
        order = store.get_order(old["order_no"])
        now = Ours(order.order_no, order.status, int(order.amount)) if order else None
        line = None if old.get("biller_status") is None else Line(
            old["order_no"], old.get("biller_ref") or "", parse_amount(old["biller_amount"]), old["biller_status"])
        carried.append((now, line, old["order_no"]))
    return carried


def run(biller_id: str, business_date: str) -> dict[str, Any]:
    """Reconcile one biller's day and store the report (a rerun replaces it)."""
    billers.biller(biller_id)
    created = store.now()
    text = read_file(biller_id, business_date)
    if text is None:
        report = _problem(biller_id, business_date, "file_missing", "no file from the biller yet", created)
    else:
        try:
            parsed = parse_file(text)
        except FileInvalid as exc:
            report = _problem(biller_id, business_date, "file_invalid", str(exc), created)
        else:
            ours = [Ours(o.order_no, o.status, int(o.amount)) for o in store.orders_of_day(biller_id, business_date)]
            report = match(biller_id, business_date, parsed, ours, _carried(biller_id, business_date), created)
    store.put_report(biller_id, business_date, report.status, json.dumps(schema.to_builtins(report)))
    if report.status != "balanced":
        obs.emit_metric("ReconciliationExceptions", 1)
    return {"biller_id": biller_id, "business_date": business_date, "status": report.status}


def _problem(biller_id: str, business_date: str, status: str, problem: str, created: str) -> ReconciliationOut:
    return ReconciliationOut(biller_id=biller_id, business_date=business_date, status=status,  # type: ignore[arg-type]
                             totals=None, counts={}, items=[], carried_to=None, created_at=created, problem=problem)


def scheduled(event: dict[str, Any]) -> dict[str, Any]:
    """The daily run (every biller, yesterday's business date) or one named run {biller_id, business_date}."""
    if event.get("biller_id"):
        return run(str(event["biller_id"]), str(event.get("business_date") or yesterday()))
    day = yesterday()
    return {"runs": [run(biller_id, day) for biller_id in billers.catalog()]}


def report(biller_id: str, business_date: str) -> dict[str, Any]:
    billers.biller(biller_id)
    stored = store.get_report(biller_id, business_date)
    if stored is None:
        raise ReportNotFound()
    result: dict[str, Any] = json.loads(stored.report)
    return result


class ReportNotFound(billers.NotFound):
    code, message = "REPORT_NOT_FOUND", "No reconciliation for this biller and day yet."
