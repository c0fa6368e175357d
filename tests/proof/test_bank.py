"""The Jepsen-style bank test: concurrent clients against the local run on DynamoDB Local, with faults, then a
checker that proves the bank's invariants from what it stored and what the clients were told.

Workload: 8 clients × 500 operations over a small set of shared accounts (so they contend): transfers
between customers and to a much-paid settlement account, counter deposits, holds (through the Lambda Invoke
API, as another center calls them) that the clients capture, release or leave to expire, outbound transfers
to other banks (settled, returned or settled late by the fake clearing house), and inbound credits from
other banks (pacs.008 put on the clearing inbound queue, as the FEP does).

Faults: the local run runs with --faults — handlers die at crash points (after the money transaction
committed, between an outbound transfer's commit and its queueing, between submitting to the clearing house
and recording it), the SQS pollers deliver batches twice, the fake clearing house sends receipts twice —
and the clients drop a share of the answers they get (as if the response were lost after the commit) and
retry every undecided answer with the same Idempotency-Key. A nemesis runs the hold sweeper every few
seconds, so expiries race with captures and with late clearing settlements.

The checker (after the queues drain, the journal is folded and the sweeper has run past every expiry) proves:
total money constant, no negative balance or available balance ever, no cap exceeded (PBOC Type II caps,
lowered for the run so they are reached; Type III's balance; the bank's daily count), each key applied at
most once and every retry answered as the first, the ledger reconciled with the balances, and no hold
left active past its expiry.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import requests

from bank_common import limits
from infra.local import DEMO_DEPOSIT
from tests.live_platform import LocalPlatform, kyc_setter, local_dynamodb, need_dynamodb_local, running_platform
from tests.support import pumps
from tests.support.api import OTHER_BANK, Api, Resp, card, new_key, subject_of
from tests.support.figures import report

CLIENTS = 8
OPERATIONS = 500  # per client
CUSTOMERS = 20  # Type II accounts shared by every client
DROP_ANSWER = 0.12  # a success the client pretends it never got: it retries with the same key
MAX_TRIES = 40
HOLD_SECONDS = (5, 20)
OUTBOUND_HOLD_SECONDS, LATE_SECONDS = "30", "40"
# PBOC Type II caps lowered for the run (ops' audited change), so that clients reach them.
TYPE_II_CAPS = {"out_daily_amount": "5000.00", "out_yearly_amount": "200000.00", "in_daily_amount": "8000.00",
                "in_yearly_amount": "200000.00"}
FUNDING = "3000.00"
# Answers that decided something (400 would be a bug of this harness, 422 IDEMPOTENCY_KEY_REUSED one of the bank's;
# both fail the checker's "every retry answered as the first" or its final assertions).
DECIDED = {200, 201, 202, 400, 404, 422}


def fen(text: str) -> int:
    return int(Decimal(text) * 100)


@dataclass
class Op:
    kind: str
    key: str
    body: dict[str, Any]
    answers: list[tuple[int, Any]] = field(default_factory=list)  # every decided answer the client got
    undecided: Counter[str] = field(default_factory=Counter)

    @property
    def final(self) -> tuple[int, Any] | None:
        return self.answers[-1] if self.answers else None


@dataclass
class World:
    platform: LocalPlatform
    api: Api
    teller: str
    customers: list[tuple[str, str]]  # (token, Type II account)
    type_iii: tuple[str, str]
    settlement: str
    ops: list[Op] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults_seen: Counter[str] = field(default_factory=Counter)

    def record(self, op: Op) -> None:
        with self.lock:
            self.ops.append(op)


@pytest.fixture(scope="module")
def faulty_platform() -> Any:
    need_dynamodb_local()
    saved = {k: os.environ.get(k) for k in ("OUTBOUND_HOLD_SECONDS", "FAKE_CLEARING_LATE_SECONDS")}
    os.environ.update({"OUTBOUND_HOLD_SECONDS": OUTBOUND_HOLD_SECONDS, "FAKE_CLEARING_LATE_SECONDS": LATE_SECONDS})
    try:
        with running_platform("--in-memory", "--faults") as platform:
            yield platform
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def lambda_client(platform: LocalPlatform) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("lambda", endpoint_url=str(platform.info["lambda"]), region_name=str(platform.info["region"]),
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"max_attempts": 0}, read_timeout=30))


def sqs_client(platform: LocalPlatform) -> Any:
    import boto3

    return boto3.client("sqs", endpoint_url=platform.moto_url, region_name=str(platform.info["region"]),
                        aws_access_key_id="local", aws_secret_access_key="local")


def invoke(platform: LocalPlatform, client: Any, function: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """A direct invoke of a function of the local run; None when it crashed or did not answer (undecided)."""
    try:
        out = client.invoke(FunctionName=f"{platform.info['prefix']}-{function}", Payload=json.dumps(payload).encode())
    except Exception:  # noqa: BLE001 - a dropped connection decided nothing
        return None
    if out.get("FunctionError"):
        return None
    reply: dict[str, Any] = json.loads(out["Payload"].read())
    return reply


# --- setup ---------------------------------------------------------------------------------------------------

def setup_world(platform: LocalPlatform) -> World:
    api = Api(base_url=platform.base_url, kyc=kyc_setter(platform))
    teller = api.staff_login(platform.staff_user, platform.staff_password)  # the demo staff: teller and ops
    pboc = next(d for d in api.call("GET", "/v1/ops/limit-definitions", token=teller, channel="web").body["items"]
                if d["definition_id"] == "ACCTYPE.II")
    lowered = api.call("PUT", "/v1/ops/limit-definitions/ACCTYPE.II",
                       {"revision": pboc["revision"], "reason": "proof suite: caps within reach", **TYPE_II_CAPS},
                       token=teller, channel="web")
    assert lowered.status == 200, lowered.body
    changed = time.monotonic()
    customers = []
    for _ in range(CUSTOMERS):
        token, account = api.customer_with_account("136" + str(uuid.uuid4().int)[:8])
        assert deposit(api, teller, account, FUNDING).status == 201
        customers.append((token, account))
    type_iii = api.customer_with_account("136" + str(uuid.uuid4().int)[:8], "III")
    lam = lambda_client(platform)
    settlement, purpose = None, f"proof {uuid.uuid4()}"
    for _ in range(10):  # one (center, purpose) is one account: a retry after a crash finds the same one
        reply = invoke(platform, lam, "AccountInternalFunction", {
            "operation": "open_settlement_account", "payload": {"center": "life", "purpose": purpose}})
        if reply and reply.get("ok"):
            settlement = reply["result"]["account_id"]
            break
    assert settlement, "no settlement account"
    # An execution environment keeps the bank's definitions for limits.CACHE_SECONDS: the lowered caps hold
    # everywhere once that has passed since the change (what ops are told: changes apply within a minute).
    time.sleep(max(0.0, limits.CACHE_SECONDS + 1 - (time.monotonic() - changed)))
    return World(platform, api, teller, customers, type_iii, settlement)


def deposit(api: Api, teller: str, account: str, amount: str) -> Resp:
    """A teller's deposit, retried under its one key until decided (a new key per try would deposit twice
    when a handler dies after the commit)."""
    key = new_key()
    for _ in range(MAX_TRIES):
        r = api.deposit(teller, account, amount, key=key)
        if r.status in DECIDED:
            return r
        time.sleep(0.1)
    raise AssertionError("deposit never decided")


# --- the clients ---------------------------------------------------------------------------------------------

def http_op(world: World, api: Api, op: Op, send: Any) -> None:
    """Send until decided; drop some decided answers (lost after the commit) and send again, same key."""
    for attempt in range(MAX_TRIES):
        try:
            r = send(op.key)
        except (requests.ConnectionError, requests.Timeout):
            op.undecided["connection"] += 1
            time.sleep(0.05)
            continue
        if r.status not in DECIDED:
            op.undecided[f"{r.status} {r.code}"] += 1
            time.sleep(min(0.5, 0.02 * 2 ** min(attempt, 5)) * random.uniform(0.5, 1.5))
            continue
        op.answers.append((r.status, r.body))
        if random.random() < DROP_ANSWER:
            with world.lock:
                world.faults_seen["answers dropped by a client"] += 1
            continue  # "the response was lost": send it again
        return


def internal_op(world: World, lam: Any, op: Op, operation: str) -> None:
    for _ in range(MAX_TRIES):
        reply = invoke(world.platform, lam, "AccountInternalFunction", {"operation": operation, "payload": op.body})
        if reply is None:
            op.undecided["crashed"] += 1
            time.sleep(0.05)
            continue
        status = 200 if reply.get("ok") else int(reply["error"]["status"])
        if status not in DECIDED and status != 409:
            op.undecided[str(status)] += 1
            time.sleep(0.05)
            continue
        if status == 409 and reply["error"]["code"] == "CONCURRENT_UPDATE":
            op.undecided["409 CONCURRENT_UPDATE"] += 1
            continue
        op.answers.append((status, reply.get("result") or reply.get("error")))
        if random.random() < DROP_ANSWER:
            world.faults_seen["answers dropped by a client"] += 1
            continue
        return


def client(world: World, number: int) -> None:
    rng = random.Random(1000 + number)
    api = Api(base_url=world.platform.base_url, session=requests.Session())
    lam = lambda_client(world.platform)
    sqs = sqs_client(world.platform)
    inbound_queue = world.platform.queue_url("ClearingInboundQueue")
    my_holds: list[dict[str, Any]] = []
    kinds = ["transfer"] * 40 + ["pay_biller"] * 6 + ["to_type_iii"] * 4 + ["deposit"] * 5 + ["hold"] * 13 + \
        ["capture"] * 9 + ["release"] * 5 + ["outbound"] * 12 + ["inbound"] * 6
    for _ in range(OPERATIONS):
        kind = rng.choice(kinds)
        i, j = rng.sample(range(len(world.customers)), 2)
        (token, src), (_, dst) = world.customers[i], world.customers[j]
        amount = f"{rng.randint(100, 9000) / 100:.2f}"
        if kind in ("capture", "release") and not my_holds:
            kind = "hold"
        if kind in ("transfer", "pay_biller", "to_type_iii"):
            to = {"transfer": dst, "pay_biller": world.settlement, "to_type_iii": world.type_iii[1]}[kind]
            op = Op(kind, new_key(), {"from_account": src, "to_account": to, "amount": amount, "memo": "proof"})
            http_op(world, api, op, lambda key, op=op, token=token: api.call(
                "POST", "/v1/account/transfers", op.body, token=token, key=key))
        elif kind == "deposit":
            op = Op(kind, new_key(), {"account_id": src, "amount": amount})
            http_op(world, api, op, lambda key, op=op: api.call("POST", "/v1/ops/deposits", op.body,
                                                                   token=world.teller, channel="web", key=key))
        elif kind == "outbound":
            outcome = rng.choices(["settled", "returned", "late"], weights=[7, 2, 1])[0]
            op = Op(kind, new_key(), {"from_account": src, "to_bank": OTHER_BANK, "to_account": card(outcome),
                                      "to_name": "收款人", "amount": amount, "memo": outcome})
            http_op(world, api, op, lambda key, op=op, token=token: api.call(
                "POST", "/v1/account/outbound-transfers", op.body, token=token, key=key))
        elif kind == "hold":
            op = Op(kind, "h-" + uuid.uuid4().hex, {})
            op.body = {"caller": "proof", "idempotency_key": op.key, "customer_id": subject_of(token),
                       "account_id": src, "amount": amount, "txn_type": "payment", "channel": "app",
                       "expires_in_seconds": rng.randint(*HOLD_SECONDS), "destination": world.settlement}
            internal_op(world, lam, op, "hold")
            if op.final and op.final[0] == 200:
                my_holds.append({"hold_id": op.final[1]["hold_id"], "account_id": src, "amount": amount})
        elif kind == "capture":
            held = my_holds.pop(rng.randrange(len(my_holds)))
            part = f"{fen(held['amount']) * rng.choice([1, 1, 0.5]) / 100:.2f}"
            op = Op(kind, held["hold_id"], {"hold_id": held["hold_id"], "account_id": held["account_id"],
                                            "destination": world.settlement, "amount": part})
            internal_op(world, lam, op, "capture")
        elif kind == "release":
            held = my_holds.pop(rng.randrange(len(my_holds)))
            op = Op(kind, held["hold_id"], {"hold_id": held["hold_id"], "account_id": held["account_id"]})
            internal_op(world, lam, op, "release")
        else:  # another bank's credit to one of the accounts, delivered by the FEP (sometimes twice)
            from account_center import clearing_gateway

            message_id = "IN" + uuid.uuid4().hex[:30]
            body = clearing_gateway.credit_transfer(
                message_id, "2026-11-26T10:00:00+08:00", fen(amount), debtor_bank=OTHER_BANK,
                debtor_account="6222000011112222333", debtor_name="王五", debtor_id="", creditor_bank=
                clearing_gateway.bank_code(), creditor_account=dst, creditor_name="收款人", memo="proof")
            op = Op(kind, message_id, {"to_account": dst, "amount": amount})
            for _ in range(2 if rng.random() < 0.2 else 1):
                sqs.send_message(QueueUrl=inbound_queue, MessageBody=body)
            op.answers.append((202, {"queued": message_id}))
        world.record(op)


def nemesis(world: World, stop: threading.Event) -> None:
    """The sweeper, often: expiries race with captures and with late settlements."""
    lam = lambda_client(world.platform)
    while not stop.wait(3):
        invoke(world.platform, lam, "HoldSweeperFunction", {"detail-type": "Scheduled Event", "source": "proof"})


# --- quiescence --------------------------------------------------------------------------------------------

def quiesce(world: World, finished: float) -> None:
    """Every queue drained, every hold past its expiry swept, the journal folded."""
    platform, lam, sqs = world.platform, lambda_client(world.platform), sqs_client(world.platform)
    # the last holds expire HOLD_SECONDS after the run, outbound ones OUTBOUND_HOLD_SECONDS, late receipts later
    latest_expiry = finished + max(HOLD_SECONDS[1], int(OUTBOUND_HOLD_SECONDS), int(LATE_SECONDS)) + 3
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        pending = 0
        for queue in ("ClearingQueue", "ClearingInboundQueue"):
            attrs = sqs.get_queue_attributes(QueueUrl=platform.queue_url(queue), AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"])["Attributes"]
            pending += sum(int(v) for v in attrs.values())
        outbox = invoke(platform, lam, "HoldSweeperFunction", {"source": "proof"}) or {}
        if pending == 0 and time.time() > latest_expiry and not outbox.get("released") and \
                not outbox.get("requeued"):
            break
        time.sleep(2)
    else:
        pytest.fail("the platform did not quiesce")
    for _ in range(5):  # the stream folds as postings arrive; the scheduled fold takes what is left
        if invoke(platform, lam, "FoldJournalFunction", {"source": "proof"}) is not None:
            break


# --- the checker -------------------------------------------------------------------------------------------

def scan(platform: LocalPlatform, table: str) -> list[dict[str, Any]]:
    return pumps.scan_all(local_dynamodb(platform), f"{platform.info['prefix']}-{table}")


def answer_key(answer: tuple[int, Any]) -> str:
    """What must be the same across a key's answers: the whole body of a success, the code of a refusal (each
    HTTP answer carries its own request id)."""
    status, body = answer
    if status >= 400 and isinstance(body, dict):
        return f"{status} {body.get('error', body).get('code')}"
    return json.dumps(body, sort_keys=True)


def n(item: dict[str, Any], name: str) -> int:
    return int(item[name]["N"]) if name in item else 0


def check(world: World) -> dict[str, Any]:
    platform = world.platform
    accounts = {i["account_id"]["S"]: i for i in scan(platform, "AccountsTable")
                if not i["account_id"]["S"].startswith("COUNT#")}
    ledger = scan(platform, "LedgerTable")
    records = [i for i in ledger if i["sk"]["S"] == "TXN"]
    entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in ledger:
        if item["sk"]["S"].startswith("E#"):
            entries[item["pk"]["S"][4:]].append(item)
    journal = scan(platform, "JournalTable")
    holds = scan(platform, "HoldsTable")
    usage = {i["pk"]["S"]: i for i in scan(platform, "LimitUsageTable")}
    results: dict[str, Any] = {}

    # 1. Total money constant: every balance and every posting still in the journal sums to zero (liability
    #    sign), and the customer side equals what the bank's own accounts say came in and went out.
    total = sum(n(a, "balance") for a in accounts.values()) + sum(n(p, "amount") for p in journal)
    bank_side = sum(n(a, "balance") for k, a in accounts.items() if k.startswith("GL-"))
    customer_side = sum(n(a, "balance") for k, a in accounts.items() if not k.startswith("GL-"))
    deposits_seen = {op.final[1]["transfer_id"]: fen(op.body["amount"]) for op in world.ops
                     if op.kind == "deposit" and op.final and op.final[0] == 201}
    cash = n(accounts.get("GL-1001-CASH", {}), "balance")
    setup_deposits = fen(FUNDING) * len(world.customers) + fen(DEMO_DEPOSIT)
    results["money conserved (all balances + journal = 0)"] = total == 0 and not journal
    results["customer side = -(bank side)"] = customer_side == -bank_side
    results["cash account = every deposit the tellers were told of, once"] = \
        -cash == setup_deposits + sum(deposits_seen.values())

    # 2. Never negative: every customer account now, and every balance its statement ever recorded.
    negative = [k for k, a in accounts.items() if not k.startswith("GL-")
                and (n(a, "balance") < 0 or n(a, "available") < 0 or n(a, "held") < 0)]
    negative += [k for k, es in entries.items()
                 if not k.startswith("GL-") and any(n(e, "balance_after") < 0 for e in es)]
    results["no negative balance or available balance"] = not negative

    # 3. No cap exceeded: usage within the caps, and usage equal to what the ledger and the holds say.
    caps = {"OUT#D": fen(TYPE_II_CAPS["out_daily_amount"]), "IN#D": fen(TYPE_II_CAPS["in_daily_amount"])}
    type_ii = {a for _, a in world.customers}
    over = [k for k, u in usage.items() if k.startswith("ACCT#") and k.split("#")[1] in type_ii
            and n(u, "amount") > caps.get(f"{k.split('#')[2]}#{k.split('#')[3][0]}", 10**15)]
    over += [k for k, u in usage.items() if k.startswith("CUST#") and "#D" in k[-10:] and n(u, "txn_count") > 100]
    iii = world.type_iii[1]
    over += [f"III balance {n(e, 'balance_after')}" for e in entries.get(iii, []) if n(e, "balance_after") > 2000_00]
    expected: Counter[str] = Counter()
    for record in records:
        if record.get("outcome", {}).get("S") == "completed" and "usage" in record:
            for key, amount, _ in json.loads(record["usage"]["S"]):
                expected[key] += amount
    for hold in holds:
        status = hold["status"]["S"]
        for key, amount, _ in json.loads(hold.get("usage", {}).get("S", "[]")):
            if status == "active" or (status == "captured" and hold.get("kind", {}).get("S") == "outbound"):
                expected[key] += amount
            elif status == "captured":
                expected[key] += n(hold, "captured_amount")
    drift = {k: (n(usage.get(k, {}), "amount"), v) for k, v in expected.items()
             if k.startswith("ACCT#") and n(usage.get(k, {}), "amount") != v}
    results["no cap exceeded (PBOC Type II out/in, Type III balance, daily counts)"] = not over
    results["limit usage = what completed movements and live holds count"] = not drift

    # 4. Each key applied at most once, and every answer under a key the same.
    by_transfer: Counter[str] = Counter()
    for account_id, es in entries.items():
        for e in es:
            by_transfer[(e["transfer_id"]["S"], account_id)] += 1
    twice = [k for k, c in by_transfer.items() if c > 1]
    differing = [op.key for op in world.ops if len({answer_key(a) for a in op.answers}) > 1]
    seen_ids = {op.final[1]["transfer_id"] for op in world.ops
                if op.kind in ("transfer", "pay_biller", "to_type_iii") and op.final and op.final[0] == 201}
    recorded_ids = {r["transfer_id"]["S"] for r in records if r.get("kind", {}).get("S") == "transfer"
                    and r.get("outcome", {}).get("S") == "completed"}
    inbound_ops = [op.key for op in world.ops if op.kind == "inbound"]
    inbound_records = Counter(r["pk"]["S"].split("#")[-1] for r in records if "#CLEARING#IN#" in r["pk"]["S"])
    results["each key applied at most once (one entry per movement and account)"] = not twice
    results["every retry under a key answered as the first"] = not differing
    results["every transfer a client was told of is in the ledger, and no other"] = seen_ids == recorded_ids
    results["every inbound credit decided once (credited or returned)"] = all(
        inbound_records[m] == 1 for m in inbound_ops)

    # 5. The ledger reconciled with the balances: each account's latest entry is its balance, each record's
    #    legs balance, and the reconciliation function agrees.
    unreconciled = []
    for account_id, a in accounts.items():
        es = sorted(entries.get(account_id, []), key=lambda e: e["sk"]["S"])
        if n(a, "version") != len(es) or (es and n(es[-1], "balance_after") != n(a, "balance")):
            unreconciled.append(account_id)
        running = 0
        for e in es:
            running += n(e, "amount") if e["direction"]["S"] == "credit" else -n(e, "amount")
            if running != n(e, "balance_after"):
                unreconciled.append(f"{account_id} at {e['sk']['S']}")
                break
    unbalanced = [r["pk"]["S"] for r in records if r.get("outcome", {}).get("S") == "completed"
                  and sum(leg["amount"] * (1 if leg["direction"] == "credit" else -1)
                          for leg in json.loads(r["legs"]["S"])) != 0]
    reconciliation = invoke(platform, lambda_client(platform), "ReconcileLedgerFunction",
                            {"page_size": 100, "hand_on": False}) or {}
    results["ledger reconciled with balances (entries, legs, the reconciliation)"] = \
        not unreconciled and not unbalanced and bool(reconciliation.get("balanced"))

    # 6. No hold left active past its expiry once the sweeper has run.
    now = int(time.time())
    stale = [h["hold_id"]["S"] for h in holds if h["status"]["S"] == "active" and n(h, "expires_epoch") <= now]
    results["no hold active past its expiry after the sweeper"] = not stale

    details = {"cash": {"balance": cash, "setup": setup_deposits, "told": sum(deposits_seen.values())},
               "negative": negative[:5], "over": over[:5], "usage drift": dict(list(drift.items())[:5]),
               "applied twice": twice[:5], "answers differ": differing[:5], "unreconciled": unreconciled[:5],
               "unbalanced": unbalanced[:5], "stale holds": stale[:5], "reconciliation": reconciliation}
    return {"invariants": results, "details": details, "counts": {
        "records": len(records), "entries": sum(len(es) for es in entries.values()), "holds": len(holds),
        "late settlements": sum(1 for r in records if "#CLEARING#LATE#" in r["pk"]["S"]),
        "outbound settled": sum(1 for h in holds if h.get("clearing_status", {}).get("S") == "confirmed"),
        "outbound returned": sum(1 for h in holds if h.get("clearing_status", {}).get("S") == "returned"),
        "outbound expired": sum(1 for h in holds if h.get("clearing_status", {}).get("S") == "expired"),
        "suspense": n(accounts.get("GL-2002-SUSPENSE", {}), "balance")}}


def test_the_bank_keeps_its_invariants_under_faults(faulty_platform: LocalPlatform) -> None:
    world = setup_world(faulty_platform)
    stop = threading.Event()
    sweeper = threading.Thread(target=nemesis, args=(world, stop), daemon=True)
    sweeper.start()
    t0 = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client, world, c) for c in range(CLIENTS)]:
            future.result()
    duration = time.monotonic() - t0
    stop.set()
    sweeper.join(10)
    quiesce(world, time.time())
    outcome = check(world)

    answers = Counter(f"{op.kind} {answer_key(op.final).split(' {')[0] if op.final else 'none'}"
                      if not op.final or op.final[0] >= 400 else f"{op.kind} {op.final[0]}" for op in world.ops)
    undecided = sum((op.undecided for op in world.ops), Counter())
    crashes = undecided["crashed"] + sum(v for k, v in undecided.items() if k.startswith("502"))
    report(f"\nproof suite: {len(world.ops)} operations by {CLIENTS} clients in {duration:.1f}s "
           f"({len(world.ops) / duration:.0f} operations/s) against the local run with faults")
    report(f"  faults: handlers killed mid-operation {crashes} (client saw 502/crash), queue batches delivered "
           f"twice {faulty_platform.count('delivered again (fault)')}, answers dropped by clients "
           f"{world.faults_seen['answers dropped by a client']}, undecided answers retried {sum(undecided.values())} "
           f"{dict(undecided)}")
    report(f"  outcomes: {dict(sorted(answers.items()))}")
    report(f"  ledger: {outcome['counts']}")
    for name, ok in outcome["invariants"].items():
        report(f"  {'HOLDS ' if ok else 'BROKEN'}  {name}")
    assert all(op.answers for op in world.ops), [op.key for op in world.ops if not op.answers][:5]
    assert not [op for op in world.ops if op.final and op.final[0] == 400], "the harness sent bad input"
    assert all(outcome["invariants"].values()), json.dumps(outcome["details"], indent=1, default=str)
    assert len(world.ops) >= CLIENTS * OPERATIONS
    assert crashes > 0 and faulty_platform.count("delivered again (fault)") > 0  # the faults did happen
