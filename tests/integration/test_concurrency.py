"""Acceptance: concurrent clients over HTTP against the local run on DynamoDB Local.

Money is conserved, nothing goes negative, statements reproduce balances, no transfer is applied twice
(retries and deliberate replays reuse the Idempotency-Key), and the PBOC Type II daily cap holds even
when requests race for it.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

from tests.live_platform import wait_until_folded
from tests.support.api import Api, Resp, binding, new_key, subject_of
from tests.support.figures import report

CLIENTS = 8
CUSTOMERS = 8
TRANSFERS = 400
FUNDING = "3000.00"
TYPE_II_DAILY_CAP = 1_000_000  # fen: 10000.00 out per Type II account per Shanghai day
MAX_TRIES = 25
PER_TRANSFER_SECONDS = 60.0
TEST_SECONDS = 300.0


def fen(amount: str) -> int:
    return int(Decimal(amount) * 100)


def new_mobile() -> str:
    return "137" + str(uuid.uuid4().int)[:8]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.retries: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.replays = 0
        self.completed: dict[str, tuple[str, str, int]] = {}  # transfer_id -> (from, to, fen)
        self.unexpected: list[str] = []


def send_with_retries(api: Api, stats: Stats, token: str, src: str, dst: str, amount: str,
                      replay_chance: float = 0.0) -> Resp | None:
    """One transfer with one Idempotency-Key: retried on 409 and connection errors, bounded in tries and time."""
    key = new_key()
    deadline = time.monotonic() + PER_TRANSFER_SECONDS
    for attempt in range(MAX_TRIES):
        try:
            r = api.transfer(token, src, dst, amount, key=key)
        except (requests.ConnectionError, requests.Timeout) as exc:
            with stats.lock:
                stats.retries[type(exc).__name__] += 1
            r = None
        if r is not None and r.status != 409:
            break
        if r is not None:
            with stats.lock:
                stats.retries[f"409 {r.code}"] += 1
        if time.monotonic() > deadline:
            break
        time.sleep(min(0.5, 0.01 * 2 ** attempt) * random.uniform(0.5, 1.5))
    else:
        r = None
    if r is None or r.status == 409:
        with stats.lock:
            stats.unexpected.append(f"gave up on {key}: {r.status if r else 'no response'}")
        return None
    if r.status == 201:
        if random.random() < replay_chance:  # a client that never saw the answer sends it again
            again = api.transfer(token, src, dst, amount, key=key)
            with stats.lock:
                stats.replays += 1
                if again.status != 201 or again.body != r.body:
                    stats.unexpected.append(f"replay of {key} answered {again.status} {again.body}")
        with stats.lock:
            stats.outcomes["201"] += 1
            stats.completed[r.body["transfer_id"]] = (src, dst, fen(amount))
    elif r.status == 422 and r.code in {"INSUFFICIENT_FUNDS", "LIMIT_EXCEEDED", "PAYEE_CANNOT_RECEIVE"}:
        with stats.lock:
            stats.outcomes[f"422 {r.code}"] += 1
    else:
        with stats.lock:
            stats.unexpected.append(f"{r.status} {r.body}")
    return r


def lambda_client(local_platform: Any) -> Any:
    import boto3

    return boto3.client("lambda", endpoint_url=local_platform.info["lambda"], region_name=local_platform.info["region"],
                        aws_access_key_id="local", aws_secret_access_key="local")


def statement(api: Api, token: str, account_id: str) -> list[dict[str, Any]]:
    """Every entry, oldest first (the API pages newest first)."""
    entries: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        path = f"/v1/account/accounts/{account_id}/statement?limit=100"
        if cursor:
            path += "&cursor=" + quote(cursor, safe="")
        r = api.call("GET", path, token=token)
        assert r.status == 200, r.body
        entries.extend(r.body["items"])
        cursor = r.body.get("next_cursor")
        if not cursor:
            break
    else:
        raise AssertionError("statement pagination did not end")
    return list(reversed(entries))


def test_parallel_transfers_conserve_money(api: Api, teller: str, local_platform: Any) -> None:
    started = time.monotonic()
    customers: list[tuple[str, str]] = []  # (token, account)
    for _ in range(CUSTOMERS):
        customers.append(api.customer_with_account(new_mobile()))
    for _, account in customers:
        assert api.deposit(teller, account, FUNDING).status == 201
    deposited = fen(FUNDING) * CUSTOMERS

    stats = Stats()
    plan = []
    rng = random.Random(20260101)
    for _ in range(TRANSFERS):
        i, j = rng.sample(range(CUSTOMERS), 2)
        plan.append((i, j, f"{rng.randint(100, 8000) / 100:.2f}"))
    chunks = [plan[c::CLIENTS] for c in range(CLIENTS)]
    deadline = time.monotonic() + TEST_SECONDS

    def client(work: list[tuple[int, int, str]]) -> None:
        session_api = Api(base_url=local_platform.base_url, session=requests.Session())
        for i, j, amount in work:
            if time.monotonic() > deadline:
                with stats.lock:
                    stats.unexpected.append("out of time")
                return
            send_with_retries(session_api, stats, customers[i][0], customers[i][1], customers[j][1], amount,
                              replay_chance=0.1)

    # The reconciliation runs again and again while the clients move money, through the local run's Lambda
    # API (its worker, its own environment), a few accounts a page: it must never see a mismatch.
    stop = threading.Event()
    reconciliations: list[dict[str, Any]] = []

    def reconcile_while_loaded() -> None:
        lam = lambda_client(local_platform)
        while not stop.is_set():
            out = lam.invoke(FunctionName=f"{local_platform.info['prefix']}-ReconcileLedgerFunction",
                             Payload=json.dumps({"page_size": 3, "hand_on": False}).encode())
            reconciliations.append({"error": out.get("FunctionError"), **json.loads(out["Payload"].read())})

    checker = threading.Thread(target=reconcile_while_loaded, daemon=True)
    t0 = time.monotonic()
    checker.start()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client, chunk) for chunk in chunks]:
            future.result()
    duration = time.monotonic() - t0
    stop.set()
    checker.join(60)
    report(f"reconciliation ran {len(reconciliations)} times during the load, "
           f"{sum(r.get('checked', 0) for r in reconciliations)} account checks")
    assert len(reconciliations) >= 3, reconciliations
    assert all(r["error"] is None and r["complete"] and r["balanced"] for r in reconciliations), \
        [r for r in reconciliations if not (r["error"] is None and r["balanced"])][:3]
    report(f"\n{TRANSFERS} transfers by {CLIENTS} clients in {duration:.1f}s ({TRANSFERS / duration:.0f}/s): "
          f"outcomes {dict(stats.outcomes)}, retries {dict(stats.retries) or 0}, deliberate replays "
          f"{stats.replays}; setup+run {time.monotonic() - started:.1f}s")
    assert not stats.unexpected, stats.unexpected[:10]
    assert sum(stats.outcomes.values()) == TRANSFERS

    # Credits that went through a payee's journal (its lock was contended) are folded within moments.
    report(f"journal folded {wait_until_folded(local_platform):.1f}s after the load")
    # Balances: money conserved, nothing negative.
    balances = {account: fen(api.balance(token, account)) for token, account in customers}
    assert sum(balances.values()) == deposited
    assert all(b >= 0 for b in balances.values()), balances

    # Statements reproduce the balances; every completed transfer is one debit and one credit.
    debits: dict[str, list[str]] = defaultdict(list)
    credits: dict[str, list[str]] = defaultdict(list)
    out_fen: Counter[str] = Counter()
    for token, account in customers:
        running = 0
        for entry in statement(api, token, account):
            amount = fen(entry["amount"])
            running += amount if entry["direction"] == "credit" else -amount
            assert fen(entry["balance_after"]) == running, (account, entry)
            assert running >= 0
            if entry["kind"] == "transfer":
                (debits if entry["direction"] == "debit" else credits)[entry["transfer_id"]].append(account)
                if entry["direction"] == "debit":
                    out_fen[account] += amount
        assert running == balances[account], account
    assert set(debits) == set(credits) == set(stats.completed)
    for transfer_id, (src, dst, _) in stats.completed.items():
        assert debits[transfer_id] == [src] and credits[transfer_id] == [dst], transfer_id
    assert all(total <= TYPE_II_DAILY_CAP for total in out_fen.values()), out_fen


def test_daily_cap_holds_under_parallel_transfers(api: Api, teller: str, local_platform: Any) -> None:
    token, payer = api.rich_customer(teller, new_mobile(), "20000.00")  # above a Type II's daily inflow cap
    _, payee = api.customer_with_account(new_mobile())
    stats = Stats()
    barrier = threading.Barrier(8)

    def one(_: int) -> Resp | None:
        own = Api(base_url=local_platform.base_url, session=requests.Session())
        barrier.wait(30)
        return send_with_retries(own, stats, token, payer, payee, "3000.00")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    report(f"\n8 racing transfers of 3000.00: outcomes {dict(stats.outcomes)}, retries {dict(stats.retries) or 0}")
    assert not stats.unexpected, stats.unexpected
    assert [r.status for r in results if r is not None].count(201) == 3
    assert stats.outcomes == Counter({"201": 3, "422 LIMIT_EXCEEDED": 5})
    assert api.balance(token, payer) == "11000.00"
    assert len(statement(api, token, payer)) == 4  # the money from its Type I and three debits


def test_racing_duplicates_of_one_key_apply_once(api: Api, teller: str, local_platform: Any) -> None:
    """8 clients send the same transfer with the same Idempotency-Key at once (a channel's retry storm):
    every answer is the first response, and the money moves once."""
    token, payer = api.customer_with_account(new_mobile())
    _, payee = api.customer_with_account(new_mobile())
    assert api.deposit(teller, payer, "100.00").status == 201
    key = new_key()
    barrier = threading.Barrier(8)

    def one(_: int) -> Resp:
        own = Api(base_url=local_platform.base_url, session=requests.Session())
        barrier.wait(30)
        for attempt in range(MAX_TRIES):
            r = own.transfer(token, payer, payee, "10.00", key=key)
            if r.status != 409:  # a lost race (CONCURRENT_UPDATE) is retried with the same key
                return r
            time.sleep(0.01 * 2 ** min(attempt, 5) * random.uniform(0.5, 1.5))
        return r

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert [r.status for r in results] == [201] * 8, [(r.status, r.body) for r in results]
    assert len({r.body["transfer_id"] for r in results}) == 1
    assert all(r.body == results[0].body for r in results)
    assert api.balance(token, payer) == "90.00"
    assert [e["amount"] for e in statement(api, token, payer)] == ["100.00", "10.00"]


def test_racing_account_openings_stay_within_the_count_caps(api: Api, teller: str, local_platform: Any) -> None:
    """8 tellers open a Type I account for one customer at once: one opens (one per person); 8 channels open
    Type III accounts for one customer at once: exactly the cap (5) open, the others are refused."""
    mobile = new_mobile()
    api.register(mobile)
    token = api.login(mobile)
    api.verify_identity(token)
    barrier = threading.Barrier(8)

    def race(call: Any) -> list[Resp]:
        def one(_: int) -> Resp:
            barrier.wait(30)
            return call(Api(base_url=local_platform.base_url, session=requests.Session()))

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(8)))

    type_i = race(lambda own: own.call("POST", "/v1/ops/accounts", {"customer_id": subject_of(token)},
                                       token=teller, channel="web"))
    assert sorted(r.status for r in type_i) == [201] + [409] * 7, [(r.status, r.body) for r in type_i]
    api.sign_eaccount(token)
    type_iii = race(lambda own: own.call("POST", "/v1/account/accounts", {"type": "III", "binding": binding()},
                                         token=token))
    assert sorted(r.status for r in type_iii) == [201] * 5 + [409] * 3, [(r.status, r.body) for r in type_iii]
    assert {r.code for r in type_i + type_iii if r.status == 409} == {"ACCOUNT_TYPE_ALREADY_OPEN"}
    listed = api.call("GET", "/v1/account/accounts", token=token).body["items"]
    assert Counter(a["type"] for a in listed) == {"I": 1, "III": 5}
