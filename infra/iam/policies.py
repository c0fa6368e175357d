"""A Lambda function's identity policies, read from a SAM-translated (plain CloudFormation) template.

The function's `Role` is `Fn::GetAtt [<Role>, Arn]` of an `AWS::IAM::Role` in the template. Its policies:
the role's inline `Policies`, `AWS::IAM::Policy` resources attached to it (`Roles: [Ref Role]`), and
`AWS::IAM::ManagedPolicy` resources of the template attached to it (by `Roles`, or listed in the role's
`ManagedPolicyArns` by Ref), all resolved. Managed policies outside the template (AWS managed, or an ARN
string) are listed in `managed_policy_arns` only: their documents are not in the template. SAM adds the
runtime's own (`AWSLambdaBasicExecutionRole` for logs, `AWSXrayWriteOnlyAccess` with `Tracing: Active`,
`AWSLambdaSQSQueueExecutionRole` for an SQS event source): the Lambda service uses them, not the
function's code, so `FunctionPolicies.unevaluated_managed_policies` leaves those out and a check can
insist that nothing else is attached without being evaluated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.iam.resolve import Resolver, Unresolvable

# AWS managed policies used by the Lambda service on the function's behalf, not by its code: the runtime's
# logs, X-Ray traces and VPC ENIs, and the event source mappings' pollers (SAM attaches the SQS one for a
# `Type: SQS` event). By name.
RUNTIME_MANAGED_POLICIES = frozenset({
    "service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess",
    "service-role/AWSLambdaVPCAccessExecutionRole",
    "service-role/AWSLambdaSQSQueueExecutionRole",
    "service-role/AWSLambdaDynamoDBExecutionRole",
    "service-role/AWSLambdaKinesisExecutionRole",
})


def is_runtime_managed_policy(arn: str) -> bool:
    """Is `arn` (any partition) one of RUNTIME_MANAGED_POLICIES?"""
    parts = arn.split(":", 5)
    return (len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[4] == "aws"
            and parts[5].removeprefix("policy/") in RUNTIME_MANAGED_POLICIES)


@dataclass(frozen=True)
class NamedPolicy:
    """A resolved policy document and where it came from (its name appears in explanations)."""

    name: str
    document: Mapping[str, Any]
    source: str

    def to_simulator(self) -> dict[str, Any]:
        return {"name": self.name, "policy": self.document}


@dataclass(frozen=True)
class FunctionPolicies:
    function: str
    role: str
    """The role's logical id."""
    role_arn: str
    policies: tuple[NamedPolicy, ...]
    managed_policy_arns: tuple[str, ...]
    """Managed policies whose documents are not in the template (not evaluated)."""
    permissions_boundary: str | None = None

    @property
    def unevaluated_managed_policies(self) -> tuple[str, ...]:
        """managed_policy_arns other than the runtime's own: what a check cannot see into."""
        return tuple(arn for arn in self.managed_policy_arns if not is_runtime_managed_policy(arn))

    @property
    def principal_arn(self) -> str:
        """The assumed-role session ARN the function's calls are made as."""
        head, _, resource = self.role_arn.partition(":role/")
        partition_account = head.split(":")
        return (f"arn:{partition_account[1]}:sts::{partition_account[4]}:assumed-role/"
                f"{resource.rsplit('/', 1)[-1]}/{self.function}")


def _role_id(role: Any, path: str) -> str:
    if isinstance(role, Mapping) and set(role) == {"Fn::GetAtt"}:
        arg = role["Fn::GetAtt"]
        logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
        if attribute == "Arn":
            return str(logical_id)
    raise Unresolvable(f"{path}: the role is {role!r}, not Fn::GetAtt of a role in the template; "
                       "its policies cannot be read")


def _document(value: Any, resolver: Resolver, path: str) -> dict[str, Any]:
    resolved = resolver.resolve(value, path)
    if isinstance(resolved, str):
        resolved = json.loads(resolved)
    if not isinstance(resolved, dict):
        raise Unresolvable(f"{path}: not a policy document: {resolved!r}")
    return resolved


def _is_ref_to(value: Any, logical_id: str) -> bool:
    return isinstance(value, Mapping) and value.get("Ref") == logical_id and len(value) == 1


def function_policies(template: Mapping[str, Any], function_logical_id: str, resolver: Resolver) -> FunctionPolicies:
    """The identity policies of `function_logical_id`'s execution role, resolved with `resolver`."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    fn = resources.get(function_logical_id)
    if fn is None or fn.get("Type") != "AWS::Lambda::Function":
        raise KeyError(f"{function_logical_id} is not an AWS::Lambda::Function of the (SAM-translated) template")
    role_id = _role_id((fn.get("Properties") or {}).get("Role"), f"Resources.{function_logical_id}.Properties.Role")
    role = resources.get(role_id)
    if role is None or role.get("Type") != "AWS::IAM::Role":
        raise Unresolvable(f"Resources.{function_logical_id}.Properties.Role: {role_id} is not an AWS::IAM::Role")
    props = role.get("Properties") or {}
    base = f"Resources.{role_id}.Properties"

    policies: list[NamedPolicy] = []
    for i, inline in enumerate(props.get("Policies") or []):
        where = f"{base}.Policies[{i}]"
        name = resolver.text(inline.get("PolicyName", f"{role_id}Policy{i}"), f"{where}.PolicyName")
        policies.append(NamedPolicy(name, _document(inline.get("PolicyDocument"), resolver, f"{where}.PolicyDocument"),
                                    f"{role_id} inline"))

    managed: list[str] = []
    in_template: set[str] = set()
    for i, entry in enumerate(props.get("ManagedPolicyArns") or []):
        target = str(entry["Ref"]) if isinstance(entry, Mapping) and set(entry) == {"Ref"} else ""
        if target in resources and resources[target].get("Type") == "AWS::IAM::ManagedPolicy":
            in_template.add(target)
        else:
            managed.append(resolver.text(entry, f"{base}.ManagedPolicyArns[{i}]"))

    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        rprops = resource.get("Properties") or {}
        attached = any(_is_ref_to(r, role_id) for r in rprops.get("Roles") or [])
        where = f"Resources.{logical_id}.Properties"
        if kind == "AWS::IAM::Policy" and attached:
            name = resolver.text(rprops.get("PolicyName", logical_id), f"{where}.PolicyName")
            document = _document(rprops.get("PolicyDocument"), resolver, f"{where}.PolicyDocument")
            policies.append(NamedPolicy(name, document, f"AWS::IAM::Policy {logical_id}"))
        elif kind == "AWS::IAM::ManagedPolicy" and (attached or logical_id in in_template):
            document = _document(rprops.get("PolicyDocument"), resolver, f"{where}.PolicyDocument")
            policies.append(NamedPolicy(logical_id, document, f"AWS::IAM::ManagedPolicy {logical_id}"))

    boundary = props.get("PermissionsBoundary")
    return FunctionPolicies(
        function=function_logical_id,
        role=role_id,
        role_arn=resolver.text({"Fn::GetAtt": [role_id, "Arn"]}, f"{base} (role ARN)"),
        policies=tuple(policies),
        managed_policy_arns=tuple(managed),
        permissions_boundary=resolver.text(boundary, f"{base}.PermissionsBoundary") if boundary else None,
    )


def all_function_policies(template: Mapping[str, Any], resolver: Resolver) -> dict[str, FunctionPolicies]:
    """function_policies of every AWS::Lambda::Function of the template, by logical id."""
    return {logical_id: function_policies(template, logical_id, resolver)
            for logical_id, resource in (template.get("Resources") or {}).items()
            if resource.get("Type") == "AWS::Lambda::Function"}
