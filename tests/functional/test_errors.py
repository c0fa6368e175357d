"""Bad input on every slice route: a JSON 4xx with a stable code, and nothing written. A business refusal
(insufficient funds, a limit, a payee that cannot receive) writes one thing: its outcome, under the key."""

from __future__ import annotations

import json

import pytest

from tests.functional.conftest import table_items
from tests.support.api import Api, binding, device_of, new_key

pytestmark = pytest.mark.usefixtures("no_step_up")  # amounts past the step-up threshold: other rules


@pytest.fixture
def funded(api: Api, teller: str, new_mobile) -> dict:
    alice, a = api.customer_with_account(new_mobile())
    bob, b = api.customer_with_account(new_mobile())
    assert api.deposit(teller, a, "500.00").status == 201
    return {"alice": alice, "a": a, "bob": bob, "b": b}


def ledger_and_usage(aws: dict[str, str]) -> tuple[int, list, list, int]:
    """What money operations write: completed records and entries, usage, balances, journal postings."""
    accounts = table_items(aws, "ACCOUNTS_TABLE")
    ledger = [i for i in table_items(aws, "LEDGER_TABLE") if i.get("outcome", {}).get("S") != "refused"]
    usage = sorted((i["pk"]["S"], i["amount"]["N"], i["txn_count"]["N"]) for i in table_items(aws, "LIMIT_USAGE_TABLE"))
    return (len(ledger), usage, sorted((i["account_id"]["S"], i.get("balance", {}).get("N"), i.get("held", {}).get("N"))
                                       for i in accounts), len(table_items(aws, "JOURNAL_TABLE")))


def refusals(aws: dict[str, str]) -> int:
    return sum(1 for i in table_items(aws, "LEDGER_TABLE") if i.get("outcome", {}).get("S") == "refused")


def assert_error(r, status: int, code: str) -> None:
    assert r.status == status, r.body
    assert r.code == code, r.body
    assert r.body["error"]["message"] and r.body["error"]["request_id"]
    assert r.headers.get("content-type", "").startswith("application/json")


@pytest.mark.parametrize(("amount", "expected"), [
    ("0.00", "INVALID_AMOUNT"), ("-1.00", "INVALID_AMOUNT"), ("1.001", "INVALID_AMOUNT"), ("abc", "INVALID_AMOUNT"),
    (12.5, "INVALID_AMOUNT"), (10, "INVALID_AMOUNT"), ("1e3", "INVALID_AMOUNT"), (" 1.00", "INVALID_AMOUNT"),
    ("99999999999999.00", "INVALID_AMOUNT"),
])
def test_bad_amounts_rejected_without_writes(api: Api, funded: dict, aws, amount, expected) -> None:
    before = ledger_and_usage(aws)
    r = api.call("POST", "/v1/account/transfers", {"from_account": funded["a"], "to_account": funded["b"],
                                                   "amount": amount}, token=funded["alice"], key=new_key())
    assert_error(r, 400, expected)
    assert ledger_and_usage(aws) == before


def test_transfer_errors_write_nothing(api: Api, funded: dict, aws, teller: str, new_mobile) -> None:
    alice, a, b = funded["alice"], funded["a"], funded["b"]
    rich, r_acc = api.rich_customer(teller, new_mobile(), "11500.00")  # above the Type II daily cap
    before, refused_before = ledger_and_usage(aws), refusals(aws)
    # Business refusals: nothing moves, nothing is counted; each leaves its outcome under its key.
    decided = [
        (api.transfer(rich, r_acc, b, "11500.01"), 422, "INSUFFICIENT_FUNDS"),
        (api.transfer(alice, a, "6230910000000000000", "1.00"), 422, "PAYEE_CANNOT_RECEIVE"),
        (api.transfer(alice, b, a, "1.00"), 404, "ACCOUNT_NOT_FOUND"),  # not alice's account
        (api.transfer(rich, r_acc, b, "10001.00"), 422, "LIMIT_EXCEEDED"),  # over the Type II daily cap
    ]
    for response, status, code in decided:
        assert_error(response, status, code)
    assert ledger_and_usage(aws) == before
    assert refusals(aws) == refused_before + len(decided)
    # Bad input: not even an outcome is written.
    body = {"from_account": a, "to_account": b, "amount": "1.00"}
    cases = [
        (api.transfer(alice, a, a, "1.00"), 422, "SAME_ACCOUNT"),
        (api.call("POST", "/v1/account/transfers", body, token=alice), 400, "IDEMPOTENCY_KEY_REQUIRED"),
        (api.call("POST", "/v1/account/transfers", body, token=alice, key="short"), 400, "INVALID_IDEMPOTENCY_KEY"),
        (api.call("POST", "/v1/account/transfers", raw="{not json", token=alice, key=new_key()), 400, "MALFORMED_JSON"),
        (api.call("POST", "/v1/account/transfers", raw="[1,2]", token=alice, key=new_key()), 400, "MALFORMED_JSON"),
        (api.call("POST", "/v1/account/transfers", {**body, "extra": 1}, token=alice, key=new_key()), 400,
         "VALIDATION_FAILED"),
        (api.call("POST", "/v1/account/transfers", {"from_account": a}, token=alice, key=new_key()), 400,
         "VALIDATION_FAILED"),
        (api.call("POST", "/v1/account/transfers", body, token=alice, key=new_key(), channel="fax"), 401,
         "UNAUTHORIZED"),  # the token is bound to channel "app"
        (api.call("POST", "/v1/account/transfers", body, key=new_key()), 401, "UNAUTHORIZED"),
        (api.call("POST", "/v1/account/transfers", body, token="not.a.jwt", key=new_key()), 401, "UNAUTHORIZED"),
        (api.call("POST", "/v1/account/transfers", body, token=alice, key=new_key(), channel="web"), 401,
         "UNAUTHORIZED"),
    ]
    for response, status, code in cases:
        assert_error(response, status, code)
    assert ledger_and_usage(aws) == before
    assert refusals(aws) == refused_before + len(decided)


def test_unknown_channel_on_public_route(api: Api, new_mobile) -> None:
    r = api.call("POST", "/v1/user/customers", {"mobile": new_mobile(), "password": "Passw0rd-x"}, channel="fax")
    assert_error(r, 400, "UNKNOWN_CHANNEL")
    r = api.call("POST", "/v1/user/customers", {"mobile": new_mobile(), "password": "Passw0rd-x"}, channel=None)
    assert_error(r, 400, "UNKNOWN_CHANNEL")


def test_expired_and_foreign_tokens_are_401(api: Api, funded: dict) -> None:
    from bank_common import tokens

    expired, _ = tokens.issue(tokens.Principal("c-x", "customer", channel="app"), ttl_seconds=-60)
    r = api.call("GET", "/v1/account/accounts", token=expired)
    assert_error(r, 401, "UNAUTHORIZED")
    other_private, _ = tokens.generate_keypair()
    import jwt

    forged = jwt.encode({"sub": "c-x", "typ": "customer", "iss": tokens.ISSUER, "aud": tokens.AUDIENCE,
                         "iat": 0, "exp": 4102444800, "chn": "app"},
                        __import__("cryptography.hazmat.primitives.serialization", fromlist=["x"])
                        .load_pem_private_key(other_private.encode(), None), algorithm="EdDSA")
    assert_error(api.call("GET", "/v1/account/accounts", token=forged), 401, "UNAUTHORIZED")


def test_customers_cannot_deposit_and_tellers_cannot_transfer(api: Api, funded: dict, teller: str) -> None:
    r = api.call("POST", "/v1/ops/deposits", {"account_id": funded["a"], "amount": "1.00"}, token=funded["alice"],
                 key=new_key())
    assert_error(r, 403, "FORBIDDEN")
    r = api.call("POST", "/v1/account/transfers", {"from_account": funded["a"], "to_account": funded["b"],
                                                   "amount": "1.00"}, token=teller, key=new_key(), channel="web")
    assert_error(r, 403, "FORBIDDEN")


def test_register_and_login_errors(api: Api, new_mobile) -> None:
    from tests.support.abuse import unchecked_registration

    mobile = new_mobile()
    api.register(mobile)
    assert_error(api.call("POST", "/v1/user/customers", unchecked_registration(api, mobile, "Passw0rd-2")), 409,
                 "MOBILE_ALREADY_REGISTERED")
    assert_error(api.call("POST", "/v1/user/customers", unchecked_registration(api, "12345", "Passw0rd-2")), 400,
                 "VALIDATION_FAILED")
    assert_error(api.call("POST", "/v1/user/customers", unchecked_registration(api, new_mobile(), "short")), 400,
                 "VALIDATION_FAILED")
    assert_error(api.call("POST", "/v1/user/customers", {"mobile": new_mobile(), "password": "Passw0rd-2"}), 400,
                 "VALIDATION_FAILED")  # no code, no consents
    assert_error(api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": "wrong-passw0rd"},
                          headers={"X-Device-Id": device_of(mobile)}), 401,
                 "INVALID_CREDENTIALS")
    assert_error(api.call("POST", "/v1/auth/login", {"mobile": new_mobile(), "password": "x"},
                          headers={"X-Device-Id": "dev-unknown"}), 401,
                 "INVALID_CREDENTIALS")


def test_login_locks_after_five_failures(api: Api, new_mobile) -> None:
    mobile = new_mobile()
    api.register(mobile)
    for _ in range(5):
        api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": "wrong-passw0rd"},
                 headers={"X-Device-Id": device_of(mobile)})
    r = api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": "Passw0rd-demo"},
                 headers={"X-Device-Id": device_of(mobile)})
    assert_error(r, 403, "LOGIN_LOCKED")


def test_account_rules(api: Api, new_mobile) -> None:
    mobile = new_mobile()
    api.register(mobile)
    token = api.login(mobile)
    assert_error(api.call("POST", "/v1/account/accounts", {"type": "I"}, token=token), 422,
                 "ACCOUNT_TYPE_NOT_ALLOWED")
    assert_error(api.call("POST", "/v1/account/accounts", {"type": "IV"}, token=token), 400, "VALIDATION_FAILED")
    assert_error(api.call("POST", "/v1/account/accounts", {"type": "II"}, token=token), 422, "BINDING_REQUIRED")
    for _ in range(5):  # PBOC: at most 5 Type II accounts per customer at one bank
        api.open_account(token, "II")
    assert_error(api.call("POST", "/v1/account/accounts", {"type": "II", "binding": binding()}, token=token), 409,
                 "ACCOUNT_TYPE_ALREADY_OPEN")
    api.open_account(token, "III")
    listed = api.call("GET", "/v1/account/accounts", token=token).body["items"]
    assert sorted(a["type"] for a in listed) == ["II"] * 5 + ["III"]
    assert all(a["balance"] == "0.00" and a["binding"] == "verified" for a in listed)


def test_type_iii_balance_cap(api: Api, teller: str, new_mobile) -> None:
    token, acct = api.customer_with_account(new_mobile(), "III")
    assert api.deposit(teller, acct, "2000.00").status == 201
    assert_error(api.deposit(teller, acct, "0.01"), 422, "BALANCE_CAP_REACHED")


def test_payee_balance_cannot_be_probed(api: Api, teller: str, new_mobile, aws) -> None:
    """A payer learns nothing about a Type III payee's balance from transfers that fail for the payer's
    own reasons (funds, limits), and every payee-side refusal is the same answer."""
    payer, src = api.rich_customer(teller, new_mobile(), "30000.00")
    owner, payee = api.customer_with_account(new_mobile(), "III")
    assert api.deposit(teller, payee, "1990.00").status == 201  # room for 10.00 more
    # Over the payer's Type II daily cap (10000.00): LIMIT_EXCEEDED whether or not the payee has room.
    assert_error(api.transfer(payer, src, payee, "10000.01"), 422, "LIMIT_EXCEEDED")
    # More than the payer has: INSUFFICIENT_FUNDS, though the payee could not take it either.
    assert_error(api.transfer(payer, src, payee, "30000.01"), 422, "INSUFFICIENT_FUNDS")
    poor, poor_src = api.customer_with_account(new_mobile(), "II")
    assert_error(api.transfer(poor, poor_src, payee, "20.00"), 422, "INSUFFICIENT_FUNDS")
    # Only a transfer that would otherwise go through meets the payee's side, and then always one answer.
    full = api.transfer(payer, src, payee, "10.01")
    missing = api.transfer(payer, src, "6230919999999999999", "10.01")
    assert_error(full, 422, "PAYEE_CANNOT_RECEIVE")
    assert_error(missing, 422, "PAYEE_CANNOT_RECEIVE")
    assert full.body["error"]["message"] == missing.body["error"]["message"]
    assert "details" not in full.body["error"] and "details" not in missing.body["error"]
    assert api.transfer(payer, src, payee, "10.00").status == 201  # exactly to the cap


def test_a_cancelled_transfer_reports_the_payers_reason_first() -> None:
    """When the transaction itself is refused on both sides (the read saw room; the write did not), the
    payer's limit wins over the payee's cap: the ordering holds at the write too, not only at the read; and
    a payer whose own update lost a race learns nothing of the payee."""
    from account_center import movements, store
    from account_center.errors import PayeeCannotReceive
    from account_center.postings import payee_explain, payer_explain
    from bank_common.ddb import Cancellation
    from bank_common.errors import LimitExceeded

    payer_race = {"account_id": {"S": "a1"}, "customer_id": {"S": "c1"}, "account_type": {"S": "II"},
                  "status": {"S": "active"}, "balance": {"N": "100000"}, "available": {"N": "100000"},
                  "opened_at": {"S": "x"}}
    full_payee = {"account_id": {"S": "a2"}, "customer_id": {"S": "c2"}, "account_type": {"S": "III"},
                  "status": {"S": "active"}, "balance": {"N": "200000"}, "opened_at": {"S": "x"}}
    payer = store.Part({}, "payer", payer_explain(100, ("active",)), "a1")
    limit = store.Part({}, "payer", lambda old: LimitExceeded())
    payee = store.Part({}, "payee", payee_explain(0, PayeeCannotReceive), "a2")
    failed = Cancellation("ConditionalCheckFailed", {})

    def outcome(*reasons: Cancellation | None) -> type | None:
        refusal, _ = movements.explain(store.Cancelled(list(zip([payer, limit, payee], reasons, strict=True))))
        return type(refusal) if refusal else None

    full = Cancellation("ConditionalCheckFailed", full_payee)
    assert outcome(None, failed, full) is LimitExceeded
    assert outcome(None, None, full) is PayeeCannotReceive
    assert outcome(Cancellation("ConditionalCheckFailed", payer_race), None, full) is None  # a race: try again


def test_statement_pagination_and_cursor_errors(api: Api, teller: str, funded: dict) -> None:
    for i in range(5):
        assert api.transfer(funded["alice"], funded["a"], funded["b"], f"{i + 1}.00").status == 201
    seen, cursor = [], None
    for _ in range(10):
        path = f"/v1/account/accounts/{funded['a']}/statement?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", path, token=funded["alice"]).body
        seen += [e["entry_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [6, 5, 4, 3, 2, 1]
    for bad in ("limit=0", "limit=101", "limit=x", "limit=", "cursor=bogus", "cursor=eyJzayI6IkEjMSJ9",
                "cursor=", "cursor=1%0A"):
        r = api.call("GET", f"/v1/account/accounts/{funded['a']}/statement?{bad}", token=funded["alice"])
        assert r.status == 400 and r.code == "VALIDATION_FAILED", (bad, r.body)
        assert r.body["error"]["details"][0]["field"] == bad.split("=")[0], (bad, r.body)
    # Every cursor of the documented shape means something: "below this entry".
    r = api.call("GET", f"/v1/account/accounts/{funded['a']}/statement?cursor=4", token=funded["alice"])
    assert [e["entry_id"] for e in r.body["items"]] == [3, 2, 1]
    r = api.call("GET", f"/v1/account/accounts/{funded['a']}/statement", token=funded["bob"])
    assert_error(r, 404, "ACCOUNT_NOT_FOUND")


def test_double_entry_reconciles(api: Api, funded: dict, aws, runtime) -> None:
    for _ in range(3):
        api.transfer(funded["alice"], funded["a"], funded["b"], "7.25")
    records = [i for i in table_items(aws, "LEDGER_TABLE") if i["sk"]["S"] == "TXN"]
    for record in records:
        legs = json.loads(record["legs"]["S"])
        assert sum(leg["amount"] for leg in legs if leg["direction"] == "debit") == \
            sum(leg["amount"] for leg in legs if leg["direction"] == "credit")
    summary = runtime.invoke("ReconcileLedgerFunction", {"page_size": 2, "hand_on": False})
    assert summary["complete"] and summary["balanced"] and summary["checked"] == 2, summary
    # A balance changed behind the ledger's back is found.
    import boto3

    boto3.client("dynamodb").update_item(
        TableName=aws["ACCOUNTS_TABLE"], Key={"account_id": {"S": funded["b"]}}, UpdateExpression="ADD balance :one",
        ExpressionAttributeValues={":one": {"N": "1"}})
    broken = runtime.invoke("ReconcileLedgerFunction", {"page_size": 2, "hand_on": False})
    assert broken["complete"] and not broken["balanced"] and len(broken["mismatched"]) == 1, broken
    assert funded["b"] not in json.dumps(broken)  # account numbers are masked in what it reports


def test_reconciliation_hands_the_walk_on_through_its_queue(api: Api, funded: dict, aws, runtime) -> None:
    """Out of time after a page, the run queues the rest; the queued message continues it to the end."""
    import boto3

    sqs = boto3.client("sqs")
    url = aws.queue_urls["ReconcileQueue"]
    fn = runtime.functions["ReconcileLedgerFunction"]
    import account_center.reconcile as job

    saved = job.TIME_RESERVE_MS
    job.TIME_RESERVE_MS = 10**9  # every page is the last this invocation has time for
    try:
        first = runtime.invoke(fn.logical_id, {"id": "run-1", "page_size": 1})
        assert not first["complete"], first
        pages = 1
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"]).get("Messages")
            if not got:
                break
            message = got[0]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            result = runtime.invoke(fn.logical_id, {"Records": [{
                "messageId": message["MessageId"], "body": message["Body"], "eventSource": "aws:sqs"}]})
            assert result == {"batchItemFailures": []}
            pages += 1
            assert pages < 50
    finally:
        job.TIME_RESERVE_MS = saved
    accounts = [i for i in table_items(aws, "ACCOUNTS_TABLE") if not i["account_id"]["S"].startswith("COUNT#")]
    assert pages >= len(accounts) - 1  # one page (one account) per invocation, the walk went to the end
