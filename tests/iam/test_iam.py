"""Least privilege, proven: every AWS call the functions' code made in this test run, against each function's
role as SAM would deploy it, by a real IAM policy evaluator (@cloud-copilot/iam-simulate; decision 0010).

`make test` runs this level last, after the unit, functional, contract, integration, e2e and bench levels
have run every function (in-process and in the local run's workers) and recorded its calls
(tests/support/iam_run.py). It fails on:
- a call the role would deny (AWS would answer AccessDenied),
- a write, delete, tagging or permissions action (or a Scan) the role grants and no test ever used,
- a call it cannot map to an IAM request, and a function that never ran (its grants would be unproven),
in both the global partition and the China partition (aws-cn, where production runs).

It also states the tightenings the platform relies on as explicit denials: whatever the code does, these
requests are refused by the roles themselves.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from infra import iam, template
from tests.support import iam_run

TARGETS = {"aws": ("aws", "ap-east-1"), "aws-cn": ("aws-cn", "cn-north-1")}


@pytest.fixture(scope="module")
def recorded() -> tuple[list[iam.AwsCall], set[str]]:
    calls, ran = iam_run.calls(), iam_run.invoked()
    if not calls:
        reason = "no AWS calls were recorded: run this level after the others (make test does)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    return calls, ran


@pytest.fixture(scope="module")
def simulator() -> Any:
    with iam.Simulator() as sim:
        yield sim


@pytest.mark.parametrize("partition", sorted(TARGETS))
def test_every_recorded_call_is_allowed_and_every_granted_write_is_used(
        partition: str, recorded: tuple[list[iam.AwsCall], set[str]], simulator: Any) -> None:
    calls, ran = recorded
    target = iam_run.target(*TARGETS[partition])
    policies = iam_run.policies(target)
    never_ran = sorted(set(policies) - ran)
    assert never_ran == [], f"functions no test ran, so their grants are unproven: {never_ran}"
    report = iam.check(calls, policies, target, extra_actions=iam.DEFAULT_EXTRA_ACTIONS, exercised=ran,
                       simulator=simulator)
    print(f"\n{partition}: {len(calls)} calls by {len({c.function for c in calls})} functions; "
          f"{sum(len(u) for u in report.used.values())} distinct requests allowed")
    assert report.ok, report.format()
    assert not report.unevaluated_managed_policies, report.unevaluated_managed_policies


def table(logical_id: str, t: iam.Target) -> str:
    return t.arn("dynamodb", f"table/{logical_id}")


def alias(logical_id: str, t: iam.Target) -> str:
    return iam.function_arn(logical_id, "live", t)


# (function, action, resource builder, context): requests the roles must refuse, whatever the code does.
MUST_DENY = [
    ("CustomerLoginFunction", "dynamodb:Scan", lambda t: table("CredentialsTable", t), {}),
    ("CustomerLoginFunction", "dynamodb:DeleteItem", lambda t: table("CredentialsTable", t),
     {"dynamodb:LeadingKeys": ["mobile:13800000001"]}),
    ("CustomerLoginFunction", "dynamodb:UpdateItem", lambda t: table("CredentialsTable", t),
     {"dynamodb:LeadingKeys": ["staff:teller01"]}),  # a customer login cannot touch a staff credential
    ("StaffLoginFunction", "dynamodb:Scan", lambda t: table("CredentialsTable", t), {}),
    ("StaffLoginFunction", "dynamodb:DeleteItem", lambda t: table("CredentialsTable", t),
     {"dynamodb:LeadingKeys": ["staff:teller01"]}),
    ("CreateTransferFunction", "dynamodb:DeleteItem", lambda t: table("LedgerTable", t), {}),
    ("CreateDepositFunction", "dynamodb:DeleteItem", lambda t: table("LedgerTable", t), {}),
    ("AuthInternalFunction", "ssm:GetParameter", lambda t: iam.parameter_arn("/bank/jwt/signing-keys", t), {}),
    ("AuthInternalFunction", "dynamodb:PutItem", lambda t: table("SessionsTable", t), {}),
    ("AuthInternalFunction", "dynamodb:PutItem", lambda t: table("CredentialsTable", t),
     {"dynamodb:LeadingKeys": ["staff:intruder"]}),  # registration cannot create staff credentials
    # Channel-login sessions are signed by a function of their own, which cannot create credentials; the channel
    # login reaches that function only.
    ("AuthSessionsFunction", "dynamodb:PutItem", lambda t: table("CredentialsTable", t),
     {"dynamodb:LeadingKeys": ["mobile:13800000001"]}),
    ("ChannelLoginFunction", "lambda:InvokeFunction", lambda t: alias("AuthInternalFunction", t), {}),
    ("RegisterCustomerFunction", "lambda:InvokeFunction", lambda t: alias("ProvisionStaffFunction", t), {}),
    ("RegisterCustomerFunction", "dynamodb:PutItem", lambda t: table("CredentialsTable", t),
     {"dynamodb:LeadingKeys": ["staff:intruder"]}),
    ("NotifyFunction", "sns:Publish", lambda t: t.arn("sns", "bank-alerts"), {}),  # texts only, no topics
    ("ReconcileLedgerFunction", "dynamodb:UpdateItem", lambda t: table("AccountsTable", t), {}),
    ("AuthorizerFunction", "ssm:GetParameter", lambda t: iam.parameter_arn("/bank/jwt/signing-keys", t), {}),
    # The authorizer reads revocation items only: not contacts, devices, sessions or codes.
    ("AuthorizerFunction", "dynamodb:GetItem", lambda t: table("AuthTable", t),
     {"dynamodb:LeadingKeys": ["SUBJ#c-0001"]}),
    ("AuthorizerFunction", "dynamodb:GetItem", lambda t: table("AuthTable", t),
     {"dynamodb:LeadingKeys": ["OTP#otp_x"]}),
    ("AuthorizerFunction", "dynamodb:PutItem", lambda t: table("AuthTable", t),
     {"dynamodb:LeadingKeys": ["REVOKE#c-0001"]}),
    # Who sends codes cannot read the center's secret-derived data elsewhere, nor sign tokens.
    ("SendOtpFunction", "ssm:GetParameter", lambda t: iam.parameter_arn("/bank/jwt/signing-keys", t), {}),
    ("SendOtpFunction", "dynamodb:PutItem", lambda t: table("AuthTable", t), {"dynamodb:LeadingKeys": ["SUBJ#c-1"]}),
    # The SMS sender reads and marks codes, nothing else; the JWKS route reads the public keys only.
    ("OtpSenderFunction", "dynamodb:GetItem", lambda t: table("AuthTable", t), {"dynamodb:LeadingKeys": ["SUBJ#c-1"]}),
    ("GetJwksFunction", "ssm:GetParameter", lambda t: iam.parameter_arn("/bank/jwt/signing-keys", t), {}),
    # Staff deprovisioning touches staff logins only; revoke-all can only move revocation items.
    ("DeprovisionStaffFunction", "dynamodb:UpdateItem", lambda t: table("CredentialsTable", t),
     {"dynamodb:LeadingKeys": ["mobile:13800000001"]}),
    ("RevokeAllSessionsFunction", "dynamodb:UpdateItem", lambda t: table("AuthTable", t),
     {"dynamodb:LeadingKeys": ["SUBJ#c-1"]}),
    # KYC: uploads only under kyc/, ID-number claims only from the verification.
    ("StartKycFunction", "s3:PutObject", lambda t: t.arn("s3", "kycdocumentsbucket/other/x", region=False,
                                                          account=False), {}),
    ("UnlinkIdentityFunction", "dynamodb:DeleteItem", lambda t: table("CustomersTable", t),
     {"dynamodb:LeadingKeys": ["IDCARD#abc"]}),
    ("LinkIdentityFunction", "dynamodb:PutItem", lambda t: table("CustomersTable", t),
     {"dynamodb:LeadingKeys": ["MOBILE#13800000001"]}),
]
# ... and the ones the platform needs, which must stay allowed (the first SSM/SNS bugs were denials).
MUST_ALLOW = [
    ("CustomerLoginFunction", "ssm:GetParameter", lambda t: iam.parameter_arn("/bank/jwt/signing-keys", t), {}),
    ("AuthorizerFunction", "ssm:GetParameter", lambda t: iam.parameter_arn("/bank/jwt/jwks", t), {}),
    ("NotifyFunction", "sns:Publish", lambda t: "*", {}),
    ("ProvisionStaffFunction", "dynamodb:PutItem", lambda t: table("CredentialsTable", t),
     {"dynamodb:LeadingKeys": ["staff:teller02"]}),
    ("AuthorizerFunction", "dynamodb:GetItem", lambda t: table("AuthTable", t),
     {"dynamodb:LeadingKeys": ["REVOKE#c-0001"]}),
    ("OtpSenderFunction", "sns:Publish", lambda t: "*", {}),
    ("VerifyKycFunction", "s3:GetObject", lambda t: t.arn("s3", "kycdocumentsbucket/kyc/c1/kyc_1/id_front",
                                                          region=False, account=False), {}),
]


@pytest.mark.parametrize("partition", sorted(TARGETS))
def test_the_tightenings_hold_in_the_roles(partition: str, simulator: Any) -> None:
    target = iam_run.target(*TARGETS[partition])
    policies = iam_run.policies(target)
    cases = []
    for number, (function, action, resource, context) in enumerate(MUST_DENY + MUST_ALLOW):
        cases.append({"id": str(number), "action": action, "resource": resource(target), "context": context,
                      "policies": [p.document for p in policies[function].policies]})
    results = {r["id"]: r for r in simulator.evaluate(cases)}
    wrong = []
    for number, (function, action, resource, _context) in enumerate(MUST_DENY + MUST_ALLOW):
        want_allowed = number >= len(MUST_DENY)
        result = results[str(number)]
        if result["decision"] == "Error" or (result["decision"] == "Allowed") != want_allowed:
            wrong.append(f"{function} {action} {resource(target)}: {result['decision']} "
                         f"(wanted {'Allowed' if want_allowed else 'denied'}) {result.get('error', '')} "
                         f"{result['explanation']}")
    assert not wrong, "\n".join(wrong)


def test_no_other_function_may_provision_staff() -> None:
    """Staff provisioning is an ops-only operation: no function's policy names ProvisionStaffFunction."""
    target = iam_run.target("aws", "ap-east-1")
    provision = alias("ProvisionStaffFunction", target)
    for function, found in iam_run.policies(target).items():
        text = str([p.document for p in found.policies])
        assert provision.rsplit(":", 1)[0] not in text or function == "ProvisionStaffFunction", function
    assert "ProvisionStaffFunction" in {fn.logical_id for fn in template.functions()}
