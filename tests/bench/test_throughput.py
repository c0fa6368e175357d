"""Transfer throughput through the handler vs raw TransactWriteItems on the same DynamoDB Local.

(a) N sequential transfers through the transfer function behind the gateway emulation (one thread), between a pool
    of funded accounts; (b) N raw `transact_write_items` calls from a plain boto3 client with the same
    items a real transfer writes (built with the account center's own item builders, so record, 2
    conditional account updates, 2 entry puts and the limit-usage updates match exactly): the target's
    baseline; (b') the same plus the BatchGetItem a transfer reads first (the same DynamoDB work as the
    handler); (c, c') the same two loops through the layer's own money-path transport
    (`bank_common.dynamo_wire`), which shows what the design's read costs on a like-for-like client.
The single-thread loops run in alternating chunks of 25 so that warm-up and table growth weigh on each
alike; each ratio is the median of the per-chunk paired ratios (the whole-run ratio is printed too). Then an 8-thread variant: `account_center.transfers.transfer` called directly per thread (the Chalice test
client is not thread-safe) vs 8 threads of raw boto3 calls. Each thread moves money within its own pair of
accounts so threads never contend on an item (this measures throughput, not conflict handling).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from benchkit import write_json

from tests.support.figures import report

N = 300
CHUNK = 25
POOL = 20
THREADS = 8
WARMUP = 30
AMOUNT_FEN = 100


def _raw_accounts(dynamo: Any, client: Any) -> list[dict[str, Any]]:
    table = dynamo.env["ACCOUNTS_TABLE"]
    accounts = []
    for i in range(POOL):
        acc = {"account_id": f"623099{uuid.uuid4().int % 10**12:012d}{i % 10}", "customer_id": f"craw{uuid.uuid4().hex[:12]}",
               "version": 0, "balance": 500_000}
        client.put_item(TableName=table, Item={
            "account_id": {"S": acc["account_id"]}, "customer_id": {"S": acc["customer_id"]},
            "account_type": {"S": "II"}, "status": {"S": "active"}, "currency": {"S": "CNY"},
            "balance": {"N": str(acc["balance"])}, "available": {"N": str(acc["balance"])}, "held": {"N": "0"},
            "version": {"N": "0"}, "opened_at": {"S": "2025-01-01T00:00:00.000000Z"}})
        accounts.append(acc)
    return accounts


def _transfer_items(src: dict[str, Any], dst: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The TransactItems of one transfer src -> dst, exactly as the transfer's own decision composes them
    (account_center.transfers.transfer_decision on a snapshot of these accounts, the bank's definitions and
    a signature), and the BatchGetItem request of its read; advances the local copies of the accounts."""
    from account_center import movements, store, transfers
    from account_center.models import Account
    from account_center.schemas import TransferIn
    from bank_common import idempotency, limits, schema
    from bank_common.principal import Principal

    at = datetime.now(UTC)
    caller = Principal(src["customer_id"], "customer", channel="app", auth_level="L1")
    body = schema.decode({"from_account": src["account_id"], "to_account": dst["account_id"], "amount": "1.00",
                          "memo": "bench"}, TransferIn)
    ctx = limits.LimitContext(customer_id=caller.subject, channel="app", txn_type="transfer", auth_level="L1",
                              amount=AMOUNT_FEN, at=at)
    key = "k-" + uuid.uuid4().hex
    record_pk = store.txn_pk(idempotency.scoped(caller.subject, key))

    def model(acc: dict[str, Any]) -> Any:
        return Account(acc["account_id"], customer_id=acc["customer_id"], account_type="II", status="active",
                       balance=acc["balance"], held=0, available=acc["balance"], version=acc["version"],
                       opened_at="2025-01-01T00:00:00.000000Z")

    reads = transfers.transfer_reads(ctx, body)
    snapshot = store.Snapshot({src["account_id"]: model(src), dst["account_id"]: model(dst)}, {},
                              _definitions(reads), {caller.subject: {"status": {"S": "signed"}}}, {})
    plan = transfers.transfer_decision(caller, ctx, body, record_pk,
                                       idempotency.request_hash("transfer", schema.to_builtins(body)))(
        snapshot, movements.Attempt())
    items = [plan.record, *(part.item for part in plan.parts)]
    batch = {table: {"Keys": keys, "ConsistentRead": True} for table, keys in store.batch_request(reads).items()}
    src["version"] += 1
    src["balance"] -= AMOUNT_FEN
    dst["version"] += 1
    dst["balance"] += AMOUNT_FEN
    return items, batch


_DEFINITIONS: dict[str, Any] = {}


def _definitions(reads: Any) -> Any:
    """The bank's definitions as a transfer reads them (read once)."""
    from account_center import store

    if not _DEFINITIONS:
        _DEFINITIONS["defs"] = store.load(type(reads)(definitions=reads.definitions)).definitions
    return _DEFINITIONS["defs"]


def _raw_run(client: Any, plans: list[tuple[list[dict[str, Any]], dict[str, Any]]], with_read: bool) -> None:
    for items, batch in plans:
        if with_read:
            client.batch_get_item(RequestItems=batch)
        client.transact_write_items(TransactItems=items)


def _wire_run(plans: list[tuple[list[dict[str, Any]], dict[str, Any]]], with_read: bool) -> None:
    from bank_common import ddb

    for items, batch in plans:
        if with_read:
            ddb.call("BatchGetItem", {"RequestItems": batch})
        ddb.call("TransactWriteItems", {"TransactItems": items})


def _threaded(work: list[Any], run: Any) -> float:
    barrier = threading.Barrier(len(work) + 1)
    errors: list[BaseException] = []

    def target(chunk: Any) -> None:
        barrier.wait()
        try:
            run(chunk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(chunk,)) for chunk in work]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    assert not errors, errors[0]
    return elapsed


def test_transfer_throughput(dynamo, bank) -> None:
    from account_center import transfers
    from account_center.schemas import TransferIn
    from bank_common import schema

    pool = [bank.customer_with_account("5000.00") for _ in range(POOL)]
    tokens = {c: bank.token(c) for c, _ in pool}
    raw_client = dynamo.boto3_client()
    raw = _raw_accounts(dynamo, raw_client)

    def handler_transfer(i: int) -> None:
        (src_c, src), (_, dst) = pool[i % POOL], pool[(i + 1) % POOL]
        r = bank.transfer_request(tokens[src_c], src, dst, "1.00")
        assert r.status_code == 201, r.body

    # --- single thread -------------------------------------------------------------------------------
    for i in range(WARMUP):
        handler_transfer(i)
    _raw_run(raw_client, [_transfer_items(raw[i % POOL], raw[(i + 1) % POOL]) for i in range(WARMUP)], True)

    # Alternate chunks of the loops so DynamoDB Local's JIT warm-up and growing tables weigh on each
    # alike (one loop after the other favoured whichever ran last).
    raw_loops = {
        "raw_twi_1t": lambda plans: _raw_run(raw_client, plans, with_read=False),
        "raw_read_twi_1t": lambda plans: _raw_run(raw_client, plans, with_read=True),
        "wire_twi_1t": lambda plans: _wire_run(plans, with_read=False),
        "wire_read_twi_1t": lambda plans: _wire_run(plans, with_read=True),
    }
    chunk_seconds: dict[str, list[float]] = {name: [] for name in ["handler_1t", *raw_loops]}
    pools = {name: _raw_accounts(dynamo, raw_client) for name in raw_loops}
    for chunk in range(N // CHUNK):
        started = time.perf_counter()
        for i in range(chunk * CHUNK, (chunk + 1) * CHUNK):
            handler_transfer(i)
        chunk_seconds["handler_1t"].append(time.perf_counter() - started)
        for name, loop in raw_loops.items():
            accounts = pools[name]  # each loop its own accounts, so none reaches a daily limit
            plans = [_transfer_items(accounts[i % POOL], accounts[(i + 1) % POOL]) for i in range(CHUNK)]
            started = time.perf_counter()
            loop(plans)
            chunk_seconds[name].append(time.perf_counter() - started)
    seconds = {name: sum(times) for name, times in chunk_seconds.items()}
    items_per_txn = len(plans[0][0])

    # --- 8 threads: logic.transfer directly vs raw ---------------------------------------------------
    per_thread = N // THREADS

    def logic_chunk(pair: tuple[tuple[str, str], tuple[str, str]]) -> None:
        (ca, aa), (cb, ab) = pair
        for k in range(per_thread):
            (c, src), dst = ((ca, aa), ab) if k % 2 == 0 else ((cb, ab), aa)
            transfers.transfer(bank.principal(c), "app", "k-" + uuid.uuid4().hex,
                               schema.decode({"from_account": src, "to_account": dst, "amount": "1.00",
                                              "memo": "bench"}, TransferIn))

    pairs = [(pool[2 * t], pool[2 * t + 1]) for t in range(THREADS)]
    logic_mt_s = _threaded(pairs, logic_chunk)

    def raw_work() -> list[list[tuple[list[dict[str, Any]], dict[str, Any]]]]:
        """Per thread, transfers back and forth within its own pair of raw accounts."""
        work = []
        for t in range(THREADS):
            a, b = raw[2 * t], raw[2 * t + 1]
            work.append([_transfer_items(a, b) if k % 2 == 0 else _transfer_items(b, a) for k in range(per_thread)])
        return work

    raw_mt_s = _threaded(raw_work(), lambda chunk: _raw_run(raw_client, chunk, with_read=False))
    raw_read_mt_s = _threaded(raw_work(), lambda chunk: _raw_run(raw_client, chunk, with_read=True))

    n_mt = per_thread * THREADS
    rates = {name: N / elapsed for name, elapsed in seconds.items()}
    rates |= {"logic_8t": n_mt / logic_mt_s, "raw_twi_8t": n_mt / raw_mt_s, "raw_read_twi_8t": n_mt / raw_read_mt_s}
    # Single thread: the median of the per-chunk paired ratios (a chunk of the handler against the raw
    # chunk right after it), as the cold-start bench pairs its runs, so a burst of load on this shared VM
    # during one chunk does not decide the figure; the whole-run ratio is reported beside it.
    def paired(raw_name: str) -> float:
        return statistics.median(r / h for r, h in zip(chunk_seconds[raw_name], chunk_seconds["handler_1t"],
                                                          strict=True))

    ratios = {
        "handler_vs_raw_twi_1t": paired("raw_twi_1t"),
        "handler_vs_raw_read_twi_1t": paired("raw_read_twi_1t"),
        "handler_vs_wire_twi_1t": paired("wire_twi_1t"),
        "handler_vs_wire_read_twi_1t": paired("wire_read_twi_1t"),
        "handler_vs_raw_twi_1t_whole_run": rates["handler_1t"] / rates["raw_twi_1t"],
        "logic_vs_raw_twi_8t": rates["logic_8t"] / rates["raw_twi_8t"],
        "logic_vs_raw_read_twi_8t": rates["logic_8t"] / rates["raw_read_twi_8t"],
    }
    figures = {"n_single_thread": N, "n_threaded": n_mt, "threads": THREADS, "pool": POOL,
               "items_per_transaction": items_per_txn, "transfers_per_s": rates, "ratios": ratios,
               "target_ratio_min": 0.7, "met": ratios["handler_vs_raw_twi_1t"] >= 0.7}
    report(f"\n  Transfer throughput on DynamoDB Local ({items_per_txn} items per TransactWriteItems)")
    report(f"  single thread, {N} transfers:")
    report(f"    handler (function behind the gateway)      {rates['handler_1t']:8.1f} /s")
    report(f"    raw TransactWriteItems (boto3)              {rates['raw_twi_1t']:8.1f} /s")
    report(f"    raw BatchGetItem + TransactWriteItems       {rates['raw_read_twi_1t']:8.1f} /s")
    report(f"    TransactWriteItems (layer transport)        {rates['wire_twi_1t']:8.1f} /s")
    report(f"    BatchGetItem + TWI (layer transport)        {rates['wire_read_twi_1t']:8.1f} /s")
    report(f"  ratios, median of {N // CHUNK} paired chunks of {CHUNK}:")
    report(f"    ratio handler / raw TWI                     {ratios['handler_vs_raw_twi_1t']:8.2f}"
          f"  (target >= 0.7: {'MET' if figures['met'] else 'MISSED'};"
          f" whole run {ratios['handler_vs_raw_twi_1t_whole_run']:.2f})")
    report(f"    ratio handler / raw read+TWI                {ratios['handler_vs_raw_read_twi_1t']:8.2f}")
    report(f"    ratio handler / TWI, layer transport        {ratios['handler_vs_wire_twi_1t']:8.2f}")
    report(f"    ratio handler / read+TWI, layer transport   {ratios['handler_vs_wire_read_twi_1t']:8.2f}")
    report(f"  {THREADS} threads, {n_mt} transfers (transfers.transfer directly, not the HTTP handler):")
    report(f"    transfers.transfer                          {rates['logic_8t']:8.1f} /s")
    report(f"    raw TransactWriteItems                      {rates['raw_twi_8t']:8.1f} /s")
    report(f"    raw BatchGetItem + TransactWriteItems       {rates['raw_read_twi_8t']:8.1f} /s")
    report(f"    ratio logic / raw TWI                       {ratios['logic_vs_raw_twi_8t']:8.2f}")
    report(f"    ratio logic / raw read+TWI                  {ratios['logic_vs_raw_read_twi_8t']:8.2f}")
    write_json("throughput", figures)
