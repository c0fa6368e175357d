"""The contract & limit center through the API: agreement templates (versions, content hash), signing with
evidence, revocation, and what needs an agreement; limit definitions (the bank's, per channel x type x
authentication level; the PBOC account-type caps), ops' audited changes, customers' own limits (lowered
freely, raised only with a step-up and never above the bank's), and how much can still be sent today."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from tests.support import identity
from tests.support.api import Api, binding, subject_of


def customer(api: Api, new_mobile) -> str:
    mobile = new_mobile()
    api.register(mobile)
    return api.login(mobile)


def test_templates_are_versioned_with_the_hash_of_their_text(api: Api, ops: str) -> None:
    first = api.call("POST", "/v1/ops/agreement-templates", {"code": "WEALTH_RISK", "title": "Risk disclosure",
                                                              "content": "Wealth products may lose money."},
                     token=ops, channel="web")
    assert first.status == 201 and first.body["version"] == 1
    assert first.body["content_hash"] == hashlib.sha256(b"Wealth products may lose money.").hexdigest()
    second = api.call("POST", "/v1/ops/agreement-templates", {"code": "WEALTH_RISK", "title": "Risk disclosure",
                                                               "content": "Wealth products may lose money. v2"},
                      token=ops, channel="web")
    assert second.body["version"] == 2
    latest = api.call("GET", "/v1/contract/agreement-templates/WEALTH_RISK", token=ops, channel="web")
    assert latest.body["version"] == 2 and latest.body["content"].endswith("v2")
    assert api.call("GET", "/v1/contract/agreement-templates/NOPE", token=ops, channel="web").status == 404


def test_signing_keeps_evidence_and_only_the_text_shown(api: Api, new_mobile) -> None:
    token = customer(api, new_mobile)
    doc = api.call("GET", "/v1/contract/agreement-templates/EACCOUNT", token=token).body
    wrong = api.call("POST", "/v1/contract/agreements", {"template_code": "EACCOUNT", "version": doc["version"],
                                                         "content_hash": "0" * 64}, token=token)
    assert wrong.status == 422 and wrong.code == "AGREEMENT_HASH_MISMATCH"
    signed = api.sign_eaccount(token).body
    assert signed["status"] == "signed" and signed["version"] == doc["version"]
    assert signed["content_hash"] == doc["content_hash"] and signed["channel"] == "app"
    assert signed["device_id"].startswith("dev-") and signed["signed_at"]
    # Signing again the version in force is that same signature.
    assert api.sign_eaccount(token).body == signed
    listed = api.call("GET", "/v1/contract/agreements", token=token).body["items"]
    assert listed == [signed]


def test_an_outdated_version_cannot_be_signed(api: Api, ops: str, new_mobile) -> None:
    api.call("POST", "/v1/ops/agreement-templates", {"code": "PAYROLL", "title": "t", "content": "one"}, token=ops,
             channel="web")
    old = api.call("GET", "/v1/contract/agreement-templates/PAYROLL", token=ops, channel="web").body
    api.call("POST", "/v1/ops/agreement-templates", {"code": "PAYROLL", "title": "t", "content": "two"}, token=ops,
             channel="web")
    token = customer(api, new_mobile)
    r = api.call("POST", "/v1/contract/agreements", {"template_code": "PAYROLL", "version": old["version"],
                                                     "content_hash": old["content_hash"]}, token=token)
    assert r.status == 422 and r.code == "AGREEMENT_VERSION_NOT_CURRENT"


def test_revocation_stops_what_needs_the_agreement(api: Api, teller: str, new_mobile) -> None:
    token, account = api.customer_with_account(new_mobile())
    assert api.deposit(teller, account, "10.00").status == 201
    _, payee = api.customer_with_account(new_mobile())
    agreement = api.call("GET", "/v1/contract/agreements", token=token).body["items"][0]
    revoked = api.call("POST", f"/v1/contract/agreements/{agreement['agreement_id']}/revocation", token=token)
    assert revoked.status == 200 and revoked.body["status"] == "revoked" and revoked.body["revoked_at"]
    again = api.call("POST", f"/v1/contract/agreements/{agreement['agreement_id']}/revocation", token=token)
    assert again.status == 409 and again.code == "AGREEMENT_NOT_IN_FORCE"
    assert api.transfer(token, account, payee, "1.00").code == "AGREEMENT_REQUIRED"
    opened = api.call("POST", "/v1/account/accounts", {"type": "III", "binding": binding()}, token=token)
    assert opened.status == 422 and opened.code == "AGREEMENT_REQUIRED"
    # The evidence of the revoked signature stays readable.
    kept = api.call("GET", f"/v1/contract/agreements/{agreement['agreement_id']}", token=token)
    assert kept.status == 200 and kept.body["status"] == "revoked"
    api.sign_eaccount(token)
    assert api.transfer(token, account, payee, "1.00").status == 201


def test_agreements_belong_to_their_customer(api: Api, new_mobile) -> None:
    alice, bob = customer(api, new_mobile), customer(api, new_mobile)
    signed = api.sign_eaccount(alice).body
    for method, path in (("GET", f"/v1/contract/agreements/{signed['agreement_id']}"),
                         ("POST", f"/v1/contract/agreements/{signed['agreement_id']}/revocation")):
        r = api.call(method, path, token=bob)
        assert r.status == 404 and r.code == "AGREEMENT_NOT_FOUND"
    assert api.call("GET", "/v1/contract/agreements", token=bob).body["items"] == []
    assert api.call("GET", "/v1/contract/agreements/not-an-id", token=alice).status == 404
    bad = api.call("POST", "/v1/contract/agreements", {"template_code": "EACCOUNT", "version": "1"}, token=alice)
    assert bad.status == 400 and bad.code == "VALIDATION_FAILED"


def test_limits_show_the_banks_own_and_what_applies(api: Api, new_mobile) -> None:
    mobile = new_mobile()
    api.register(mobile)
    token = api.login(mobile)
    view = api.call("GET", "/v1/contract/limits?txn_type=transfer", token=token).body["items"][0]
    assert view["auth_level"] == "L1" and view["bank"]["single_amount"] == "50000.00"
    assert view["own"] == {} or all(v is None for v in view["own"].values())
    lowered = api.call("PUT", "/v1/contract/limits/transfer", {"single_amount": "1000.00", "daily_count": 10},
                       token=token)
    assert lowered.status == 200, lowered.body
    assert lowered.body["effective"]["single_amount"] == "1000.00" and lowered.body["effective"]["daily_count"] == 10
    assert lowered.body["effective"]["daily_amount"] == "200000.00"  # the bank's, where the customer set none
    lower = api.call("PUT", "/v1/contract/limits/transfer", {"single_amount": "500.00", "daily_count": 10},
                     token=token)
    assert lower.status == 200  # lowering further: no step-up
    raised = api.call("PUT", "/v1/contract/limits/transfer", {"single_amount": "2000.00", "daily_count": 10},
                      token=token)
    assert raised.status == 403 and raised.code == "STEP_UP_REQUIRED"
    removed = api.call("PUT", "/v1/contract/limits/transfer", {"daily_count": 10}, token=token)
    assert removed.status == 403  # removing one is raising it too
    over = api.call("PUT", "/v1/contract/limits/transfer", {"single_amount": "1000000.01"}, token=token)
    assert over.status == 422 and over.code == "LIMIT_ABOVE_BANK_CAP"  # above the bank's highest (L3) cap
    # The step-up for exactly this raise (txn type and every new value), spent with the write.
    wanted = {"single_amount": "2000.00", "daily_count": 10}
    _, step_up = identity.step_up_token(api, mobile, token, {"operation": "limit_raise", "txn_type": "transfer",
                                                              "limits": wanted})
    assert api.call("PUT", "/v1/contract/limits/payment", {"single_amount": "100.00", "daily_count": 5},
                    token=token).status == 200
    for other, path in (({"single_amount": "2000.01", "daily_count": 10}, "transfer"),
                        ({"single_amount": "2000.00"}, "transfer"), (wanted, "payment")):
        refused = api.call("PUT", f"/v1/contract/limits/{path}", other, token=token,
                           headers={"X-Step-Up-Token": step_up})
        assert refused.status == 403 and refused.code == "STEP_UP_INVALID", (other, path, refused.body)
    ok = api.call("PUT", "/v1/contract/limits/transfer", wanted, token=token, headers={"X-Step-Up-Token": step_up})
    assert ok.status == 200 and ok.body["own"]["single_amount"] == "2000.00", ok.body
    api.call("PUT", "/v1/contract/limits/transfer", {"single_amount": "1000.00", "daily_count": 10}, token=token)
    again = api.call("PUT", "/v1/contract/limits/transfer", wanted, token=token, headers={"X-Step-Up-Token": step_up})
    assert again.status == 409 and again.code == "STEP_UP_ALREADY_USED"  # single use, even for the same values
    assert api.call("GET", "/v1/contract/limits?txn_type=transfer",
                    token=token).body["items"][0]["own"]["single_amount"] == "1000.00"  # nothing written
    malformed = api.call("PUT", "/v1/contract/limits/transfer", wanted, token=token,
                         headers={"X-Step-Up-Token": "not a token"})
    assert malformed.status == 400 and malformed.code == "VALIDATION_FAILED"


def test_one_limit_raise_token_is_spent_once_in_a_race(api: Api, aws: Any, new_mobile) -> None:
    mobile = new_mobile()
    api.register(mobile)
    token = api.login(mobile)
    assert api.call("PUT", "/v1/contract/limits/transfer", {"single_amount": "100.00"}, token=token).status == 200
    wanted = {"single_amount": "900.00"}
    _, step_up = identity.step_up_token(api, mobile, token, {"operation": "limit_raise", "txn_type": "transfer",
                                                              "limits": wanted})
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: api.call("PUT", "/v1/contract/limits/transfer", wanted, token=token,
                                                   headers={"X-Step-Up-Token": step_up}), range(8)))
    # A request that reads the raise already written raises nothing (200 without the token); the others lose
    # to the one that spent it. Either way the token is spent exactly once.
    assert any(a.status == 200 for a in answers)
    assert all(a.status == 200 or a.code in ("STEP_UP_ALREADY_USED", "LIMIT_DEFINITION_CHANGED") for a in answers), \
        [(a.status, a.code) for a in answers]
    spent = [i for i in identity.Tables(boto3.client("dynamodb"), aws.naming.prefix).auth_items()
             if i["pk"]["S"].startswith("STEPUP_USED#") and i["subject"]["S"] == subject_of(token)]
    assert len(spent) == 1


def test_own_limits_hold_on_the_money_path(api: Api, teller: str, new_mobile) -> None:
    mobile = new_mobile()
    token, account = api.customer_with_account(mobile)
    _, payee = api.customer_with_account(new_mobile())
    assert api.deposit(teller, account, "500.00").status == 201
    api.call("PUT", "/v1/contract/limits/transfer", {"single_amount": "100.00", "daily_count": 2}, token=token)
    assert api.transfer(token, account, payee, "100.01").code == "LIMIT_EXCEEDED"
    assert api.transfer(token, account, payee, "100.00").status == 201
    assert api.transfer(token, account, payee, "1.00").status == 201
    third = api.transfer(token, account, payee, "1.00")
    assert third.code == "LIMIT_EXCEEDED" and "2 transactions" in third.body["error"]["message"]
    # On another channel the customer's app limits do not apply (their own limits are per channel).
    web = api.login(mobile, channel="web")
    assert api.transfer(web, account, payee, "100.01", channel="web").status == 201


def test_how_much_can_i_still_send_today(api: Api, teller: str, new_mobile) -> None:
    token, account = api.rich_customer(teller, new_mobile(), "12000.00")
    _, payee = api.customer_with_account(new_mobile())
    assert api.transfer(token, account, payee, "2500.00").status == 201
    r = api.call("GET", f"/v1/contract/limits/remaining?txn_type=transfer&account_id={account}", token=token)
    assert r.status == 200, r.body
    body = r.body
    assert body["today"] == {"amount": "197500.00", "count": 99}  # the bank's 200,000.00 / 100 a day at L1
    assert body["account_today"] == "7500.00"  # PBOC Type II: 10,000.00 a day out
    assert body["single"] == "50000.00" and body["can_send_now"] == "7500.00"
    stranger = customer(api, new_mobile)
    foreign = api.call("GET", f"/v1/contract/limits/remaining?account_id={account}", token=stranger)
    assert foreign.status == 404 and foreign.code == "ACCOUNT_NOT_FOUND"
    plain = api.call("GET", "/v1/contract/limits/remaining", token=stranger).body
    assert plain["can_send_now"] == "50000.00" and plain["account_today"] is None
    bad = api.call("GET", "/v1/contract/limits/remaining?txn_type=lottery", token=token)
    assert bad.status == 400


def test_ops_change_bank_defaults_under_an_audit_trail(api: Api, ops: str, teller: str, new_mobile) -> None:
    listed = api.call("GET", "/v1/ops/limit-definitions", token=ops, channel="web").body["items"]
    app_l1 = next(d for d in listed if d["definition_id"] == "BANK.bill_pay.app.L1")
    change = {"revision": app_l1["revision"], "reason": "fraud wave on bill pay", "single_amount": "3000.00",
              "daily_amount": "10000.00", "daily_count": 20}
    r = api.call("PUT", "/v1/ops/limit-definitions/BANK.bill_pay.app.L1", change, token=ops, channel="web")
    assert r.status == 200, r.body
    assert r.body["revision"] == app_l1["revision"] + 1 and r.body["values"]["single_amount"] == "3000.00"
    stale = api.call("PUT", "/v1/ops/limit-definitions/BANK.bill_pay.app.L1", change, token=ops, channel="web")
    assert stale.status == 409 and stale.code == "LIMIT_DEFINITION_CHANGED"
    trail = api.call("GET", "/v1/ops/limit-definitions/BANK.bill_pay.app.L1/audit", token=ops, channel="web").body
    entry = trail["items"][0]
    assert entry["reason"] == "fraud wave on bill pay" and entry["by"] and entry["at"]
    assert entry["before"]["single_amount"] == "5000.00" and entry["after"]["single_amount"] == "3000.00"
    # Account-type caps never above PBOC's.
    pboc = next(d for d in listed if d["definition_id"] == "ACCTYPE.II")
    raise_pboc = {"revision": pboc["revision"], "reason": "try", "out_daily_amount": "10000.01",
                  "out_yearly_amount": "200000.00", "in_daily_amount": "10000.00", "in_yearly_amount": "200000.00"}
    r = api.call("PUT", "/v1/ops/limit-definitions/ACCTYPE.II", raise_pboc, token=ops, channel="web")
    assert r.status == 422 and r.code == "LIMIT_ABOVE_PBOC_CAP"
    mixed_body = {**raise_pboc, "out_daily_amount": "9000.00", "single_amount": "1.00"}
    mixed = api.call("PUT", "/v1/ops/limit-definitions/ACCTYPE.II", mixed_body, token=ops, channel="web")
    assert mixed.status == 422 and mixed.code == "LIMIT_FIELDS_NOT_APPLICABLE"
    removed = {k: v for k, v in raise_pboc.items() if k != "in_daily_amount"} | {"out_daily_amount": "9000.00"}
    r = api.call("PUT", "/v1/ops/limit-definitions/ACCTYPE.II", removed, token=ops, channel="web")
    assert r.status == 422 and r.code == "LIMIT_ABOVE_PBOC_CAP"  # removing a PBOC cap would raise it
    lowered = {**removed, "in_daily_amount": "8000.00"}
    r = api.call("PUT", "/v1/ops/limit-definitions/ACCTYPE.II", lowered, token=ops, channel="web")
    assert r.status == 200 and r.body["values"]["in_daily_amount"] == "8000.00"
    # Staff without the ops role, and customers, may not.
    assert api.call("GET", "/v1/ops/limit-definitions", token=teller, channel="web").status == 403
    token = customer(api, new_mobile)
    assert api.call("GET", "/v1/ops/limit-definitions", token=token).status == 403
    assert api.call("GET", "/v1/ops/limit-definitions/BANK.nope/audit", token=ops, channel="web").status == 404


@pytest.mark.parametrize("body", [{"revision": -1, "reason": "x"}, {"revision": 1}, {"revision": 1, "reason": ""},
                                  {"revision": 1, "reason": "x", "single_amount": "1.001"}])
def test_malformed_definition_changes_write_nothing(api: Api, ops: str, body: dict) -> None:
    before = api.call("GET", "/v1/ops/limit-definitions", token=ops, channel="web").body
    r = api.call("PUT", "/v1/ops/limit-definitions/BANK.transfer.app.L1", body, token=ops, channel="web")
    assert r.status == 400
    assert api.call("GET", "/v1/ops/limit-definitions", token=ops, channel="web").body == before


def test_the_seed_is_idempotent(api: Api, runtime) -> None:
    reply = runtime.invoke("ContractInternalFunction", {"operation": "seed_bank_defaults", "payload": {}})
    assert reply["ok"] and reply["result"]["written"] == 0 and reply["result"]["present"] == 5 * 5 * 3 + 2


def test_subject_of_reads_the_token(api: Api, new_mobile) -> None:
    mobile = new_mobile()
    customer_id = api.register(mobile)
    assert subject_of(api.login(mobile)) == customer_id
