"""The OpenAPI document against the running platform: schemathesis (examples, coverage, fuzzing and stateful
phases) finds no server error, no undocumented status, no response off its schema, no schema-invalid request
accepted and no schema-valid request refused with a 400 (DESIGN 4: the schemas carry every rule).

How it runs: the schemathesis CLI (`schemathesis run`, the venv's executable) in a subprocess, against the
document the session's local run serves (`local_platform`; no second platform) - the same command a developer
runs by hand, one engine for all four phases, and no hypothesis/pytest state shared with this session. The
settings (phases' example counts, checks and their expected statuses, seed) are in tests/schemathesis.toml;
this test adds dictionaries of this run's accounts (the customer's own, and a payee), so that a good share of
the generated transfers, deposits and account reads name accounts that exist and belong to the caller - else
nearly every transfer would be a 404 and the success paths (and their response schemas) go untested. Even so a
generated transfer or account opening lines up only now and then (none or one in 250 examples), so the hooks
send a share of their schema-valid cases as a request that should succeed (`succeeding`).

Who calls: tests/support/schemathesis_hooks.py (SCHEMATHESIS_HOOKS) sets the Authorization per operation from
the document's `security`: `customer` operations get a fresh customer's token for the X-Channel the case
carries (tokens are channel-bound: the customer logs in once per channel), the staff-only deposit gets the
teller's token (the `teller` fixture's, renewed if it would expire during the run), public operations none.

Checks: not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
negative_data_rejection (a 4xx the API uses) and positive_data_acceptance, for which a schema-valid request may
get a 2xx or a refusal that depends on state (401, 403, 404, 409, 422) but never a 400. Links in the document
(bank_common.openapi, from the routes' `links`) drive the stateful phase: register -> login, open/list/get an
account -> its statement, a transfer from it, a deposit to it, and statement pages.

The run is bounded by the example counts (about 80 s of requests on 2 cores); the subprocess has a hard
timeout. The test also checks that the run got through: every operation but staff login had some 2xx, and
customer operations succeeded on every channel (else the tokens were wrong and all the checks saw were 401s).
A summary (operations, requests by status class, failures, 2xx per operation) goes to the figures section.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import tomllib
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tests.live_platform import ROOT, LocalPlatform
from tests.support.api import PASSWORD, Api, card
from tests.support.figures import report

CONFIG = ROOT / "tests" / "schemathesis.toml"
HOOKS = "tests.support.schemathesis_hooks"
PHASES = ("examples", "coverage", "fuzzing", "stateful")
CHANNELS = ("web", "app", "wechat_mp", "wechat_oa", "alipay_mp")
RUN_TIMEOUT = 1200  # seconds; the run takes about 200 alone, several times that on a shared 2-core machine
# Operations that may never see a 2xx here: staff login needs a staff password, which no schema can know; the
# others need a code texted to the customer's phone (registration, a new device's login, a password reset, a
# step-up's verification), a live refresh token of the customer's (each works once), or a login from a device
# the customer bound (it is the customer's fingerprint, which no schema can know) or its current password; a
# binding verification succeeds only once the card's bank answers again, which the local run's fake bank never
# does by itself (tests/functional/test_account_rules.py covers that success).
NO_SUCCESS_EXPECTED = {"POST /v1/auth/staff/login", "POST /v1/user/customers", "POST /v1/auth/login",
                       "POST /v1/auth/login/device", "POST /v1/auth/password/reset",
                       "POST /v1/auth/step-up/{challenge_id}/verify", "POST /v1/auth/token/refresh",
                       "POST /v1/auth/password", "POST /v1/account/accounts/{account_id}/binding-verification"}
# A biller's callback is signed with the biller's secret, which no schema can know (tests/functional/
# test_life_payments.py and tests/integration/test_life_http.py sign them).
NO_SUCCESS_EXPECTED |= {"POST /v1/life/callbacks/{biller_id}"}
# Operations whose success needs state this run does not build (each has its own functional and HTTP tests):
# a second bound device to unbind (the run's customer has one, its current), a linked channel identity to unlink
# or to log in with, a questionnaire answered consistently (one answer per question, from its own options) and
# the assessment it makes, and uploaded ID-card and selfie images for a KYC verification.
NO_SUCCESS_WITHOUT_STATE = {"DELETE /v1/auth/devices/{device_id}", "DELETE /v1/user/identities/{identity_id}",
                            "POST /v1/user/identities/login", "POST /v1/user/risk-assessments",
                            "GET /v1/user/risk-assessment", "POST /v1/user/kyc/{kyc_id}/verify"}
# Operations that end the caller's sessions: each gets a customer of its own (tests/support/schemathesis_hooks.py).
ENDS_SESSIONS = ("POST /v1/auth/logout", "POST /v1/auth/sessions/revoke-all", "POST /v1/auth/password",
                 "DELETE /v1/auth/devices/{device_id}")


def _expires_in(token: str) -> float:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return float(claims["exp"]) - time.time()


def _staff_token(api: Api, platform: LocalPlatform, teller: str) -> str:
    """The session's teller token, or a new one if it could expire during the run (tokens live 15 minutes)."""
    if _expires_in(teller) > RUN_TIMEOUT + 60:
        return teller
    return api.staff_login(platform.staff_user, platform.staff_password)


def _mobile() -> str:
    return "135" + str(uuid.uuid4().int)[:8]


def _logged_in(api: Api) -> dict[str, str]:
    """A new customer logged in on every channel: its access token per channel."""
    mobile = _mobile()
    api.register(mobile)
    return {channel: api.login(mobile, channel=channel) for channel in CHANNELS}


def _customer(api: Api, staff: str) -> tuple[dict[str, str], str]:
    """A new customer logged in on every channel, with a Type II account holding money (its Type III account
    is left for schemathesis to open)."""
    mobile = _mobile()
    app_token, account = api.rich_customer(staff, mobile, "100000.00")
    tokens = {channel: api.login(mobile, channel=channel) for channel in CHANNELS if channel != "app"}
    return {"app": app_token, **tokens}, account


def _campaigns(api: Api, marketer: str) -> list[str]:
    """A draft and a running coupon campaign for the operations that name one (schemathesis also makes its own,
    through links): a draft can be edited and scheduled, the running one gives coupons."""
    from tests.support.marketing import PATH, campaign_body, running_campaign

    draft = api.call("POST", PATH, campaign_body(), token=marketer, channel="web")
    assert draft.status == 201, draft.body
    return [str(draft.body["campaign_id"]), running_campaign(api, marketer)]


def _sign(api: Api, token: str, doc: dict[str, Any]) -> str:
    signed = api.call("POST", "/v1/contract/agreements", {"template_code": doc["code"], "version": doc["version"],
                                                           "content_hash": doc["content_hash"]}, token=token)
    assert signed.status == 201, signed.body
    return str(signed.body["agreement_id"])


def _world(api: Api, staff: str, tokens: dict[str, str], bystander: dict[str, str], account: str,
           payee: str, device: str) -> dict[str, list[Any]]:
    """What the generated requests name, so that some of them find what they ask for: the run's accounts,
    a second agreement (PRIVACY) signed by the customer (to look up and sign again: the examples publish new
    versions of EACCOUNT, never of PRIVACY) and by the bystander (to revoke), a transfer to reverse, an
    outbound transfer to look up, two other customers' empty accounts for ops (one to freeze and unfreeze,
    one to close), a verified customer without a Type I account, the e-account agreement's code, and the device
    the unbinding operation's customer can unbind."""
    app = tokens["app"]
    privacy = {"code": "PRIVACY", "title": "个人信息保护政策", "content": f"Privacy notice {uuid.uuid4().hex}"}
    assert api.call("POST", "/v1/ops/agreement-templates", privacy, token=staff, channel="web").status == 201
    doc = api.call("GET", "/v1/contract/agreement-templates/PRIVACY", token=app).body
    agreement, revocable = _sign(api, app, doc), _sign(api, bystander["app"], doc)
    moved = api.transfer(app, account, payee, "1.00")
    assert moved.status == 201, moved.body
    outbound = api.outbound(app, account, card(), "1.00")
    assert outbound.status == 202, outbound.body
    (_, victim), (_, closable) = api.customer_with_account(_mobile()), api.customer_with_account(_mobile())
    mobile = _mobile()
    newcomer = api.register(mobile)
    api.verify_identity(api.login(mobile))
    type_i = next(a["account_id"] for a in api.call("GET", "/v1/account/accounts", token=app).body["items"]
                  if a["type"] == "I")
    known = _mobile()
    api.register(known)
    return {"own": [account], "payee": [payee], "agreement": [agreement], "revocable": [revocable],
            "type_i": [type_i], "self": ["SELF"], "mobile": [known], "password": [PASSWORD],
            "transfer": [moved.body["transfer_id"]], "outbound": [outbound.body["transfer_id"]], "victim": [victim],
            "closable": [closable], "online_type": ["III", "II"],
            "newcomer": [newcomer], "code": ["EACCOUNT"], "signable": ["PRIVACY"], "version": [doc["version"]],
            "hash": [doc["content_hash"]], "revision": [1], "device": [device]}


# Where the dictionaries are drawn, and how often (else the schema generates the value like any other).
BINDINGS = {"body.from_account": ("own", 0.8), "body.to_account": ("payee", 0.8), "body.account_id": ("own", 0.5),
            "path.account_id": ("own", 0.5), "path.agreement_id": ("agreement", 0.8),
            "body.transfer_id": ("transfer", 0.8), "path.transfer_id": ("outbound", 0.8),
            "body.customer_id": ("newcomer", 0.5), "path.code": ("code", 0.5), "body.template_code": ("signable", 0.8),
            "body.version": ("version", 0.8), "body.content_hash": ("hash", 0.8), "body.revision": ("revision", 0.5),
            # a Type II/III account (online) bound to the customer's own Type I account (opening succeeds), a
            # login that exists
            "body.type": ("online_type", 0.6), "body.binding.card_number": ("type_i", 0.5),
            "body.binding.bank_code": ("self", 0.5),
            "body.mobile": ("mobile", 0.9), "body.password": ("password", 0.9), "path.device_id": ("device", 0.5),
            "path.campaign_id": ("campaign", 0.6)}
# Life center: a biller and a customer number it knows (the fake biller pays it at once), an order of the
# customer's, and a day with a reconciliation report.
BINDINGS |= {"body.biller_id": ("biller", 0.8), "body.customer_number": ("bill_number", 0.8),
             "path.order_no": ("order", 0.8), "path.biller_id": ("biller", 0.8),
             "path.business_date": ("recon_date", 0.8)}
# Ops' account actions get another customer's empty account (and never the run's own: the hooks send those
# to that account, as schemathesis also reuses ids it saw in responses); revocations (under the bystander's
# token, tests/support/schemathesis_hooks.py) the bystander's agreement.
OPERATION_BINDINGS = {("freeze_account", "unfreeze_account"): ("path.account_id", "victim"),
                      ("close_account",): ("path.account_id", "closable"),
                      ("revoke_agreement",): ("path.agreement_id", "revocable"),
                      # campaigns of its own to move (pause, end): the running one the coupon operation gives
                      # from stays running (a run that ended it saw 409 CAMPAIGN_NOT_RUNNING on every assignment)
                      ("transition_campaign",): ("path.campaign_id", "movable_campaign"),
                      # coupons are given from the running campaign only (drawn from both, the draft came first
                      # and every assignment was 409 CAMPAIGN_NOT_RUNNING)
                      ("assign_coupon",): ("path.campaign_id", "running_campaign")}


def _life_world(platform: LocalPlatform, api: Api, token: str, account: str) -> dict[str, list[Any]]:
    """A bill paid by the run's customer, and a reconciliation report (no file that day: `file_missing`)."""
    import boto3

    from tests.support.life import pay

    paid = pay(api, token, account, "12.34", "0123456781")
    assert paid.status == 201, paid.body
    lam = boto3.client("lambda", endpoint_url=str(platform.info["lambda"]), region_name=str(platform.info["region"]),
                       aws_access_key_id="local", aws_secret_access_key="local")
    lam.invoke(FunctionName=f"{platform.info['prefix']}-BillerReconcileFunction",
               Payload=json.dumps({"biller_id": "sh-electric", "business_date": "2026-01-02"}).encode())
    return {"biller": ["sh-electric"], "bill_number": ["0123456781"], "order": [paid.body["order_no"]],
            "recon_date": ["2026-01-02"]}


def _run_config(tmp_path: Path, world: dict[str, list[Any]]) -> Path:
    """tests/schemathesis.toml plus dictionaries of this run's data (_world), bound to the fields and
    parameters that name them."""
    lines = [""]
    for name, values in world.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values, ensure_ascii=False)}", ""]
    lines += ["[parameters]", *(f'"{key}" = {{ dictionary = "{dictionary}", probability = {probability} }}'
                                for key, (dictionary, probability) in BINDINGS.items()), ""]
    for operations, (key, dictionary) in OPERATION_BINDINGS.items():
        lines += ["[[operations]]", f"include-operation-id = {json.dumps(list(operations))}",
                  f'parameters = {{ "{key}" = {{ dictionary = "{dictionary}", probability = 0.8 }} }}', ""]
    text = CONFIG.read_text(encoding="utf-8") + "\n".join(lines) + "\n"
    tomllib.loads(text)  # tests/schemathesis.toml must not have these tables itself
    path = tmp_path / "schemathesis.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _restore(api: Api, staff: str, before: list[dict[str, Any]]) -> None:
    """Put back the bank's limit definitions as they were before the run (generated requests change them:
    the local run serves the tests that come after this one)."""
    now = {d["definition_id"]: d for d in api.call("GET", "/v1/ops/limit-definitions", token=staff,
                                                    channel="web").body["items"]}
    for definition in before:
        current = now[definition["definition_id"]]
        if current["values"] == definition["values"]:
            continue
        r = api.call("PUT", f"/v1/ops/limit-definitions/{definition['definition_id']}",
                     {"revision": current["revision"], "reason": "restored after the schemathesis run",
                      **definition["values"]}, token=staff, channel="web")
        assert r.status == 200, r.body


def _schemathesis() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "schemathesis.cli"]


def run_schemathesis(platform: LocalPlatform, config: Path, tokens: dict[str, Any], out: Path,
                     protect: dict[str, Any] | None = None, succeeding: dict[str, Any] | None = None,
                     ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], list[dict[str, Any]]]:
    """One `schemathesis run` of every phase against the local run: the process, its JSON report, and the
    responses the hooks counted (operation, status, channel, count). `protect`: the accounts ops must not
    act on, and the one they act on instead; `succeeding`: bodies that should succeed, by operationId, sent for
    a share of the schema-valid cases (tests/support/schemathesis_hooks.py)."""
    out.mkdir(parents=True, exist_ok=True)
    stats = out / "responses.json"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "BANK_SCHEMATHESIS_TOKENS": json.dumps(tokens),
           "BANK_SCHEMATHESIS_PROTECT": json.dumps(protect or {}), "BANK_SCHEMATHESIS_STATS": str(stats),
           "BANK_SCHEMATHESIS_SUCCEEDING": json.dumps(succeeding or {}),
           "NO_COLOR": "1"}
    command = [*_schemathesis(), "--config-file", str(config), "run", str(platform.info["openapi"]),
               "--phases", ",".join(PHASES), "--report", "json", "--report-json-path", str(out / "report.json"),
               "--no-color"]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          check=False)
    document = json.loads((out / "report.json").read_text()) if (out / "report.json").is_file() else {}
    counted = json.loads(stats.read_text()) if stats.is_file() else []
    return proc, document, counted


def summary(document: dict[str, Any], counted: list[dict[str, Any]], seconds: float) -> str:
    by_class: Counter[str] = Counter()
    succeeded: Counter[str] = Counter()
    for row in counted:
        by_class[f"{row['status'] // 100}xx"] += row["count"]
        if 200 <= row["status"] < 300:
            succeeded[row["operation"]] += row["count"]
    operations = document.get("operations") or {}
    failures = sum(group["count"] for group in document.get("failures", []))
    classes = ", ".join(f"{k} {v}" for k, v in sorted(by_class.items()))
    return (f"schemathesis ({'/'.join(PHASES)}): {operations.get('tested')} of {operations.get('total')} "
            f"operations, {sum(by_class.values())} requests ({classes}), {failures} failures, {seconds:.0f} s\n"
            f"  2xx by operation: {', '.join(f'{op} {n}' for op, n in sorted(succeeded.items()))}")


def test_the_api_keeps_its_openapi_document(local_platform: LocalPlatform, api: Api, teller: str,
                                            tmp_path: Path) -> None:
    staff = _staff_token(api, local_platform, teller)
    customer, account = _customer(api, staff)
    sacrificial = {operation: _logged_in(api) for operation in ENDS_SESSIONS}
    # KYC starts only for a customer not verified yet (the run's customer is L2: 409 KYC_ALREADY_PASSED, and
    # those count toward its 10 starts a day): a customer of its own at L1.
    sacrificial["POST /v1/user/kyc"] = _logged_in(api)
    unbinding = sacrificial["DELETE /v1/auth/devices/{device_id}"]["app"]
    device = api.call("GET", "/v1/auth/devices", token=unbinding).body["items"][0]["device_id"]
    # The customer's account, and another customer's (the local run's demo account) to pay into; the device the
    # unbinding operation's customer can unbind.
    bystander_mobile = _mobile()
    api.register(bystander_mobile)
    bystander = {channel: api.login(bystander_mobile, channel=channel) for channel in CHANNELS}
    world = _world(api, staff, customer, bystander, account, str(local_platform.info["demo_account"]), device)
    marketer = api.staff_login(str(local_platform.info["marketer_user"]), local_platform.staff_password)
    world["campaign"] = _campaigns(api, marketer)
    world["movable_campaign"] = _campaigns(api, marketer)
    world["running_campaign"] = world["campaign"][1:]
    world |= _life_world(local_platform, api, customer["app"], account)
    config = _run_config(tmp_path, world)
    definitions = api.call("GET", "/v1/ops/limit-definitions", token=staff, channel="web").body["items"]
    started = time.monotonic()
    try:
        proc, document, counted = run_schemathesis(
            local_platform, config, {"customer": customer, "staff": staff, "bystander": bystander,
                                     "sacrificial": sacrificial, "marketing": marketer, "api_keys": api.api_keys()},
            tmp_path / "run", {"accounts": [*world["own"], *world["type_i"], *world["payee"]],
                               "stand_in": world["victim"][0], "stand_in_closing": world["closable"][0]},
            {"create_transfer": {"from_account": account, "to_account": world["payee"][0], "amount": "1.00"},
             "open_account": {"type": "III", "binding": {"card_number": world["type_i"][0], "bank_code": "SELF"}},
             "pay_bill": {"biller_id": world["biller"][0], "customer_number": world["bill_number"][0],
                          "account_id": account, "amount": "1.00"},
             "sign_agreement": {"template_code": "PRIVACY", "version": world["version"][0],
                                "content_hash": world["hash"][0]}})
    finally:
        _restore(api, staff, definitions)
    seconds = time.monotonic() - started
    report(summary(document, counted, seconds))
    output = proc.stdout[-15000:] + proc.stderr[-5000:]
    assert proc.returncode == 0, output
    assert document.get("complete") and not document["failures"] and not document["errors"], output
    assert all(phase["status"] == "success" for phase in document["phases"].values()), document["phases"]
    assert set(document["phases"]) == set(PHASES), document["phases"]
    # Every operation was tested, and (but staff login) some of its requests succeeded, customer ones on every
    # channel: a run whose tokens were refused would pass every check with 401s and prove nothing.
    doc = api.call("GET", "/v1/openapi.json", channel=None).body
    operations = {f"{method.upper()} {path}": op for path, ops in doc["paths"].items() for method, op in ops.items()}
    assert document["operations"]["tested"] == document["operations"]["total"] == len(operations) >= 9
    ok = [row for row in counted if 200 <= row["status"] < 300]
    unsucceeded = set(operations) - {row["operation"] for row in ok}
    expected = NO_SUCCESS_EXPECTED | NO_SUCCESS_WITHOUT_STATE
    refusals: dict[str, Counter[str]] = {op: Counter() for op in unsucceeded - expected}
    for row in counted:
        if row["operation"] in refusals and row["status"] >= 400:
            refusals[row["operation"]][f"{row['status']} {row.get('code')}"] += row["count"]
    assert unsucceeded <= expected, \
        f"no 2xx for {sorted(unsucceeded)}: {({op: c.most_common(5) for op, c in refusals.items()})}"
    customer_ops = {label for label, op in operations.items() if {"customer": []} in op.get("security", [])}
    channels = {row["channel"] for row in ok if row["operation"] in customer_ops}
    assert channels == set(CHANNELS), f"customer operations succeeded only on {sorted(channels)}"
