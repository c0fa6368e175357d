"""Least privilege, checked: every AWS call a function's code makes in the tests, against its IAM role.

1. Record (`infra.iam.record`): `install(session)` before the session makes clients, and run each
   function's code inside `running("<LogicalId>")`; in-process stand-ins for AWS calls use `record(...)`;
   another process records into the JSON-lines file named by $BANK_IAM_RECORD, read back with `load()`.
2. Resolve (`infra.iam.resolve`, `infra.iam.policies`): translate template.yaml with samtranslator, then
   `Resolver.for_template(translated, target, stack_name, physical_names=...)` and
   `all_function_policies(translated, resolver)`.
3. Check (`infra.iam.check`): `check(calls, policies, target)` maps each call to the IAM requests AWS
   authorizes (`infra.iam.mapping`), evaluates them with @cloud-copilot/iam-simulate (`simulate.mjs`,
   one node process) and lists denied calls, granted-but-unused Write/Permissions/Tagging actions, and
   what could not be checked.
"""

from infra.iam.check import DEFAULT_EXTRA_ACTIONS, CheckError, Denial, Report, UnusedGrant, check
from infra.iam.mapping import MAPPERS, IamRequest, Target, UnknownCall, function_arn, parameter_arn, requests_for
from infra.iam.policies import (
    RUNTIME_MANAGED_POLICIES,
    FunctionPolicies,
    NamedPolicy,
    all_function_policies,
    function_policies,
    is_runtime_managed_policy,
)
from infra.iam.record import (
    RECORD_ENV,
    RECORDER,
    AwsCall,
    Recorder,
    Recording,
    current_function,
    install,
    load,
    record,
    running,
)
from infra.iam.resolve import NO_VALUE, Resolver, Unresolvable
from infra.iam.simulator import Simulator, SimulatorError

__all__ = [
    "DEFAULT_EXTRA_ACTIONS",
    "MAPPERS",
    "NO_VALUE",
    "RECORDER",
    "RECORD_ENV",
    "RUNTIME_MANAGED_POLICIES",
    "AwsCall",
    "CheckError",
    "Denial",
    "FunctionPolicies",
    "IamRequest",
    "NamedPolicy",
    "Recorder",
    "Recording",
    "Report",
    "Resolver",
    "Simulator",
    "SimulatorError",
    "Target",
    "UnknownCall",
    "Unresolvable",
    "UnusedGrant",
    "all_function_policies",
    "check",
    "current_function",
    "function_arn",
    "function_policies",
    "install",
    "is_runtime_managed_policy",
    "load",
    "parameter_arn",
    "record",
    "requests_for",
    "running",
]
