"""The OpenAPI document against the running platform: schemathesis (examples, coverage, fuzzing and stateful
phases) finds no server error, no undocumented status, no response off its schema, no schema-invalid request
accepted and no schema-valid request refused with a 400 (DESIGN 4: the schemas carry every rule).

How it runs: the schemathesis CLI (`schemathesis run`, the venv's executable) in a subprocess, against the
document the session's local run serves (`local_platform`; no second platform) - the same command a developer
runs by hand, one engine for all four phases, and no hypothesis/pytest state shared with this session. The
settings (phases' example counts, checks and their expected statuses, seed) are in tests/schemathesis.toml;
this test adds dictionaries of this run's accounts (the customer's own, and a payee), so that a good share of
the generated transfers, deposits and account reads name accounts that exist and belong to the caller - else
nearly every transfer would be a 404 and the success paths (and their response schemas) go untested.

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
from tests.support.api import Api
from tests.support.figures import report

CONFIG = ROOT / "tests" / "schemathesis.toml"
HOOKS = "tests.support.schemathesis_hooks"
PHASES = ("examples", "coverage", "fuzzing", "stateful")
CHANNELS = ("web", "app", "wechat_mp", "wechat_oa", "alipay_mp")
RUN_TIMEOUT = 600  # seconds; the run takes about 90
# Operations that may never see a 2xx here: staff login needs a staff password, which no schema can know; the
# others need a code texted to the customer's phone (registration, a new device's login, a password reset, a
# step-up's verification), a live refresh token of the customer's (each works once), or a login from a device
# the customer bound (it is the customer's fingerprint, which no schema can know) or its current password.
NO_SUCCESS_EXPECTED = {"POST /v1/auth/staff/login", "POST /v1/user/customers", "POST /v1/auth/login",
                       "POST /v1/auth/login/device", "POST /v1/auth/password/reset",
                       "POST /v1/auth/step-up/{challenge_id}/verify", "POST /v1/auth/token/refresh",
                       "POST /v1/auth/password"}
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


def _logged_in(api: Api) -> dict[str, str]:
    """A new customer logged in on every channel: its access token per channel."""
    mobile = "135" + str(uuid.uuid4().int)[:8]
    api.register(mobile)
    return {channel: api.login(mobile, channel=channel) for channel in CHANNELS}


def _customer(api: Api, staff: str) -> tuple[dict[str, str], str]:
    """A new customer logged in on every channel, with a Type II account holding money (its Type III account
    is left for schemathesis to open)."""
    tokens = _logged_in(api)
    account = api.open_account(tokens["app"], "II")
    r = api.deposit(staff, account, "100000.00")
    assert r.status == 201, r.body
    return tokens, account


def _campaigns(api: Api, marketer: str) -> list[str]:
    """A draft and a running coupon campaign for the operations that name one (schemathesis also makes its own,
    through links): a draft can be edited and scheduled, the running one gives coupons."""
    from tests.support.marketing import PATH, campaign_body, running_campaign

    draft = api.call("POST", PATH, campaign_body(), token=marketer, channel="web")
    assert draft.status == 201, draft.body
    return [str(draft.body["campaign_id"]), running_campaign(api, marketer)]


def _run_config(tmp_path: Path, own: str, payee: str, device: str, campaigns: list[str] | None = None) -> Path:
    """tests/schemathesis.toml plus dictionaries of this run's accounts: the customer's own for the fields and
    parameters that name an account of the caller, another customer's as the payee of a transfer. Drawn with
    these probabilities, else from the schema like any value."""
    bindings = {"body.from_account": ("own", 0.8), "body.to_account": ("payee", 0.8),
                "body.account_id": ("own", 0.5), "path.account_id": ("own", 0.5), "path.device_id": ("device", 0.5)}
    if campaigns:
        bindings["path.campaign_id"] = ("campaign", 0.6)
    lines = ["", "[dictionaries.own]", f"values = {json.dumps([own])}", "",
             *(["[dictionaries.campaign]", f"values = {json.dumps(campaigns)}", ""] if campaigns else []),
             "[dictionaries.payee]", f"values = {json.dumps([payee])}", "",
             "[dictionaries.device]", f"values = {json.dumps([device])}", "", "[parameters]",
             *(f'"{name}" = {{ dictionary = "{dictionary}", probability = {probability} }}'
               for name, (dictionary, probability) in bindings.items())]
    text = CONFIG.read_text(encoding="utf-8") + "\n".join(lines) + "\n"
    tomllib.loads(text)  # tests/schemathesis.toml must not have these tables itself
    path = tmp_path / "schemathesis.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _schemathesis() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "schemathesis.cli"]


def run_schemathesis(platform: LocalPlatform, config: Path, tokens: dict[str, Any], out: Path,
                     ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], list[dict[str, Any]]]:
    """One `schemathesis run` of every phase against the local run: the process, its JSON report, and the
    responses the hooks counted (operation, status, channel, count)."""
    out.mkdir(parents=True, exist_ok=True)
    stats = out / "responses.json"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "BANK_SCHEMATHESIS_TOKENS": json.dumps(tokens),
           "BANK_SCHEMATHESIS_STATS": str(stats), "NO_COLOR": "1"}
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
    unbinding = sacrificial["DELETE /v1/auth/devices/{device_id}"]["app"]
    device = api.call("GET", "/v1/auth/devices", token=unbinding).body["items"][0]["device_id"]
    # The customer's account, and another customer's (the local run's demo account) to pay into; the device the
    # unbinding operation's customer can unbind.
    marketer = api.staff_login(str(local_platform.info["marketer_user"]), local_platform.staff_password)
    config = _run_config(tmp_path, account, str(local_platform.info["demo_account"]), device,
                         _campaigns(api, marketer))
    started = time.monotonic()
    proc, document, counted = run_schemathesis(local_platform, config, {"customer": customer, "staff": staff,
                                                                        "sacrificial": sacrificial,
                                                                        "marketing": marketer,
                                                                        "api_keys": api.api_keys()},
                                               tmp_path / "run")
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
    assert unsucceeded <= NO_SUCCESS_EXPECTED, f"no 2xx for {sorted(unsucceeded)}"
    customer_ops = {label for label, op in operations.items() if {"customer": []} in op.get("security", [])}
    channels = {row["channel"] for row in ok if row["operation"] in customer_ops}
    assert channels == set(CHANNELS), f"customer operations succeeded only on {sorted(channels)}"
