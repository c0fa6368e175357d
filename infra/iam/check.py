"""Recorded calls against the functions' policies: denied calls, granted-but-unused writes, errors."""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.iam.mapping import IamRequest, Target, UnknownCall, requests_for
from infra.iam.policies import FunctionPolicies
from infra.iam.record import AwsCall
from infra.iam.simulator import Case, GrantsRequest, Simulator


@dataclass(frozen=True)
class Denial:
    """A request a recorded call needs that the function's policies do not allow."""

    function: str
    action: str
    resource: str
    decision: str  # ImplicitlyDenied | ExplicitlyDenied
    explanation: str
    operations: tuple[str, ...]  # the calls that needed it, as "service.Operation"
    count: int  # how many recorded calls needed it


@dataclass(frozen=True)
class UnusedGrant:
    """A Write / Permissions management / Tagging (or extra) action the policies allow on a resource
    (as the policy names it) that no recorded call of the function used."""

    function: str
    action: str
    resource: str
    access_level: str
    explanation: str


@dataclass(frozen=True)
class CheckError:
    """Something that could not be checked: an unmapped call, an action IAM does not know, a resource
    that is none of the action's resource types, a function without policies."""

    function: str
    subject: str
    message: str


@dataclass
class Report:
    denied: list[Denial] = field(default_factory=list)
    unused: list[UnusedGrant] = field(default_factory=list)
    errors: list[CheckError] = field(default_factory=list)
    used: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    """function → the (action, resource) requests its calls made and the policies allowed."""
    unexercised: list[str] = field(default_factory=list)
    """Functions with policies but no recorded call (their grants are not checked for use)."""
    unprobed: dict[str, list[str]] = field(default_factory=dict)
    """function → policy Resource patterns the unused-grant check could not probe (e.g. `.../index/*`), and
    actions it skipped on a resource that fits several of their resource types."""
    unevaluated_managed_policies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """function → attached managed policies (other than the runtime's) whose documents were not evaluated."""

    @property
    def ok(self) -> bool:
        return not (self.denied or self.unused or self.errors)

    def unused_by_function(self) -> dict[str, list[UnusedGrant]]:
        out: dict[str, list[UnusedGrant]] = defaultdict(list)
        for grant in self.unused:
            out[grant.function].append(grant)
        return dict(out)

    def format(self) -> str:
        lines: list[str] = []
        for d in self.denied:
            lines.append(f"DENIED {d.function}: {d.action} on {d.resource} ({d.count}× {', '.join(d.operations)}): "
                         f"{d.explanation}")
        for u in self.unused:
            lines.append(f"UNUSED {u.function}: {u.action} ({u.access_level}) on {u.resource}: {u.explanation}")
        for e in self.errors:
            lines.append(f"ERROR {e.function}: {e.subject}: {e.message}")
        for function, arns in sorted(self.unevaluated_managed_policies.items()):
            lines.append(f"note {function}: managed policies not evaluated: {', '.join(arns)}")
        return "\n".join(lines) or "ok"


DEFAULT_EXTRA_ACTIONS: tuple[str, ...] = ("dynamodb:Scan",)
"""Read actions worth flagging when granted and unused, in the spirit of the write check."""


def check(calls: Iterable[AwsCall], policies: Mapping[str, FunctionPolicies], target: Target, *,
          extra_actions: Iterable[str] = (),
          allow_unused: Mapping[str, Iterable[str]] | None = None,
          exercised: Iterable[str] | None = None,
          simulator: Simulator | None = None) -> Report:
    """Evaluate every recorded call against its function's policies and find granted-but-unused writes.

    `policies`: function logical id → FunctionPolicies (see `all_function_policies`). `target`: the
    partition/region/account the policies were resolved for, and the renaming of test-run names.
    `extra_actions`: actions checked for use besides Write/Permissions management/Tagging (e.g.
    DEFAULT_EXTRA_ACTIONS). `allow_unused`: function (or "*") → action patterns (fnmatch, e.g.
    "dynamodb:ConditionCheckItem") that may be granted without being used. `exercised`: the functions
    whose grants are checked for use (default: those with at least one recorded call). One node batch.
    """
    report = Report()
    calls = list(calls)
    exercised_set = set(exercised) if exercised is not None else {c.function for c in calls}

    # 1. Calls → deduplicated IAM requests per function.
    pending: dict[tuple[str, tuple[str, str, str]], tuple[IamRequest, list[str]]] = {}
    reported: set[tuple[str, str]] = set()
    for call in calls:
        operation = f"{call.service}.{call.operation}"
        if call.function not in policies:
            if (call.function, "") not in reported:
                reported.add((call.function, ""))
                report.errors.append(CheckError(call.function, operation,
                                                "no policies for this function (not a function of the template?)"))
            continue
        try:
            requests = requests_for(call, target)
        except UnknownCall as exc:
            if (call.function, operation) not in reported:
                reported.add((call.function, operation))
                report.errors.append(CheckError(call.function, operation, str(exc)))
            continue
        for request in requests:
            entry = pending.setdefault((call.function, request.key()), (request, []))
            entry[1].append(operation)

    # 2. One batch: every distinct request, and the grants of every exercised function.
    cases: list[Case] = []
    order: list[tuple[str, IamRequest, list[str]]] = []
    for (function, _), (request, operations) in pending.items():
        fp = policies[function]
        context = {"aws:RequestedRegion": target.region, "aws:SecureTransport": "true",
                   "aws:PrincipalArn": fp.role_arn, "aws:PrincipalAccount": target.account_id, **request.context}
        cases.append(Case(id=str(len(cases)), action=request.action, resource=request.resource, context=context,
                          policySet=function, accountId=target.account_id, principal=fp.principal_arn))
        order.append((function, request, operations))

    extras = sorted(set(extra_actions))
    grants_requests: list[GrantsRequest] = []
    probes: dict[str, dict[str, str]] = {}  # function → probe resource → policy pattern
    for function in sorted(exercised_set & set(policies)):
        probes[function], unprobed = _probes(policies[function])
        if unprobed:
            report.unprobed[function] = unprobed
        if probes[function]:
            grants_requests.append(GrantsRequest(id=function, resources=sorted(probes[function]), extraActions=extras,
                                                 policySet=function, accountId=target.account_id,
                                                 principal=policies[function].principal_arn))
    for function in sorted(policies):
        fp = policies[function]
        if fp.unevaluated_managed_policies:
            report.unevaluated_managed_policies[function] = fp.unevaluated_managed_policies
        if fp.permissions_boundary:
            report.errors.append(CheckError(function, "PermissionsBoundary",
                                            f"{fp.permissions_boundary} is not evaluated by this check"))
    report.unexercised = sorted(set(policies) - exercised_set)

    policy_sets = {function: [p.to_simulator() for p in policies[function].policies]
                   for function in {f for f, _, _ in order} | {g["id"] for g in grants_requests}}
    reply: dict[str, Any] = {"evaluate": [], "grants": []}
    if cases or grants_requests:
        own = simulator is None
        sim = simulator or Simulator()
        try:
            reply = sim.run({"policySets": policy_sets, "evaluate": cases, "grants": grants_requests})
        finally:
            if own:
                sim.close()

    # 3. Decisions.
    for (function, request, operations), result in zip(order, reply["evaluate"], strict=True):
        decision = result["decision"]
        if decision == "Allowed":
            report.used.setdefault(function, set()).add((request.action, request.resource))
        elif decision == "Error":
            report.errors.append(CheckError(function, f"{request.action} on {request.resource}",
                                            f"{result.get('error')} (from {', '.join(sorted(set(operations)))})"))
        else:
            explanation = result["explanation"]
            unevaluated = policies[function].unevaluated_managed_policies
            if unevaluated:
                explanation += f" (managed policies not evaluated: {', '.join(unevaluated)})"
            report.denied.append(Denial(function, request.action, request.resource, decision, explanation,
                                        tuple(sorted(set(operations))), len(operations)))

    # 4. Granted but unused.
    allowed_unused = allow_unused or {}
    for grants in reply["grants"]:
        function = grants["id"]
        exempt = [p.lower() for key in ("*", function) for p in allowed_unused.get(key, ())]
        used = report.used.get(function, set())
        for entry in grants["resources"]:
            pattern = probes[function][entry["resource"]]
            for error in entry["errors"]:
                report.errors.append(CheckError(function, f"grants on {pattern}", error))
            for skipped in entry.get("skipped", []):
                report.unprobed.setdefault(function, []).append(f"{pattern}: {skipped}")
            for granted in entry["actions"]:
                action = granted["action"]
                if any(fnmatch.fnmatchcase(action.lower(), p) for p in exempt):
                    continue
                if any(a.lower() == action.lower() and _matches(pattern, r) for a, r in used):
                    continue
                report.unused.append(UnusedGrant(function, action, pattern, granted["accessLevel"],
                                                 granted["explanation"]))
    return report


def _probes(fp: FunctionPolicies) -> tuple[dict[str, str], list[str]]:
    """Concrete resources to ask `grants` about, from the Allow statements' Resource patterns: the ARN
    itself, "*", or for a pattern ending in one `*` (like SAM's `function:name*`) the ARN before it."""
    probes: dict[str, str] = {}
    unprobed: list[str] = []
    for policy in fp.policies:
        statements = policy.document.get("Statement") or []
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") != "Allow":
                continue
            if "NotResource" in statement:
                unprobed.append(f"NotResource {statement['NotResource']} ({policy.name})")
                continue
            resources = statement.get("Resource") or []
            for pattern in resources if isinstance(resources, list) else [resources]:
                pattern = str(pattern)
                wild = sum(pattern.count(c) for c in "*?") + pattern.count("${")
                if pattern == "*" or wild == 0:
                    probes.setdefault(pattern, pattern)
                elif wild == 1 and pattern.endswith("*") and pattern[-2:-1] not in ("/", ":", ""):
                    probes.setdefault(pattern[:-1], pattern)
                elif pattern not in unprobed:
                    unprobed.append(pattern)
    return probes, unprobed


def _matches(pattern: str, resource: str) -> bool:
    """IAM's Resource matching: `*` any run of characters, `?` one character, case-sensitive."""
    if pattern == "*":
        return True
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, resource) is not None
