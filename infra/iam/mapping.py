"""From a recorded call to the IAM requests AWS authorizes for it: action, resource ARN, context keys.

The ARN is built in the `Target`'s partition, region and account from the *name* of the resource in the
call (table, queue, topic, parameter, function, schedule, bucket): whatever account, region or endpoint
the test run's URLs and ARNs carry (moto's 123456789012, a local endpoint) is not used. A name seen in
the test run goes through `Target.rename` first, which maps test-run physical names to the names the
policies were resolved with; if the template was resolved with the test run's own names (see
`Resolver.for_template(physical_names=...)`), no renaming is needed.

A call this module does not know raises `UnknownCall`: a new kind of call can never pass unchecked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from infra.iam.record import AwsCall

Context = dict[str, str | list[str]]


class UnknownCall(LookupError):
    """A service or operation without a mapping to IAM requests (add one to `MAPPERS`)."""


@dataclass(frozen=True)
class Target:
    """Where the policies apply: partition (`aws`, `aws-cn`, ...), region, account, and how test-run
    names map to the names in the resolved policies (a dict, a function, or None for "same names")."""

    partition: str = "aws"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    rename: Mapping[str, str] | Callable[[str], str] | None = field(default=None, compare=False, hash=False)
    # table name (as the policies name it) → its partition key attribute: item-level DynamoDB requests then
    # carry dynamodb:LeadingKeys, as AWS sets it, so policies conditioned on it are evaluated, not vacuous
    hash_keys: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def name(self, physical: str) -> str:
        if self.rename is None:
            return physical
        if isinstance(self.rename, Mapping):
            return self.rename.get(physical, physical)
        return self.rename(physical)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if region else ''}:"
                f"{self.account_id if account else ''}:{resource}")

    @property
    def dns_suffix(self) -> str:
        """The domain of the partition's endpoints (queue URLs)."""
        return {"aws-cn": "amazonaws.com.cn", "aws-iso": "c2s.ic.gov", "aws-iso-b": "sc2s.sgov.gov"}.get(
            self.partition, "amazonaws.com")


@dataclass(frozen=True)
class IamRequest:
    """One authorization request: `dynamodb:GetItem` on `arn:aws:dynamodb:...:table/x`, with context."""

    action: str
    resource: str
    context: Mapping[str, str | list[str]] = field(default_factory=dict, compare=False, hash=False)

    def key(self) -> tuple[str, str, str]:
        return (self.action, self.resource, json.dumps(self.context, sort_keys=True))


Mapper = Callable[[AwsCall, Target], list[IamRequest]]


def requests_for(call: AwsCall, target: Target) -> list[IamRequest]:
    """The IAM requests AWS evaluates for `call`; raises UnknownCall for an unmapped service/operation."""
    mapper = MAPPERS.get(call.service, {}).get(call.operation)
    if mapper is None:
        raise UnknownCall(f"{call.service}.{call.operation}: no IAM mapping (infra/iam/mapping.py)")
    return mapper(call, target)


def _required(call: AwsCall, name: str) -> Any:
    value = call.params.get(name)
    if value in (None, ""):
        raise UnknownCall(f"{call.service}.{call.operation}: parameter {name} missing, cannot name the resource")
    return value


def _arn_resource(value: str) -> str:
    """The resource part of an ARN (everything after the account), or the value itself."""
    if value.startswith("arn:"):
        return value.split(":", 5)[5]
    return value


# ----------------------------------------------------------------------------------------- DynamoDB


def _table_name(value: str) -> str:
    resource = _arn_resource(value)
    return resource.split("/")[1] if resource.startswith("table/") else resource


def _table_arn(target: Target, table: str, index: str | None = None) -> str:
    resource = f"table/{target.name(_table_name(table))}"
    if index:
        resource += f"/index/{index}"
    return target.arn("dynamodb", resource)


def _ddb_context(params: Mapping[str, Any]) -> Context:
    keys = {"ReturnValues": "dynamodb:ReturnValues", "ReturnConsumedCapacity": "dynamodb:ReturnConsumedCapacity",
            "Select": "dynamodb:Select"}
    return {key: str(params[name]) for name, key in keys.items() if params.get(name)}


def _leading_keys(target: Target, table: str, keys: list[Any]) -> Context:
    """`dynamodb:LeadingKeys`: the partition key values of the items a request touches."""
    attribute = target.hash_keys.get(target.name(_table_name(table)))
    values = []
    for key in keys:
        value = (key or {}).get(attribute) if attribute and isinstance(key, Mapping) else None
        if isinstance(value, Mapping) and value:
            values.append(str(next(iter(value.values()))))
    return {"dynamodb:LeadingKeys": values} if values else {}


def _item_keys(params: Mapping[str, Any]) -> list[Any]:
    return [params[name] for name in ("Key", "Item") if isinstance(params.get(name), Mapping)]


def _ddb_table(*, index: bool = False, param: str = "TableName") -> Mapper:
    def mapper(call: AwsCall, target: Target) -> list[IamRequest]:
        name = str(_required(call, param))
        arn = _table_arn(target, name, str(call.params.get("IndexName") or "") if index else None)
        context = {**_ddb_context(call.params), **_leading_keys(target, name, _item_keys(call.params))}
        return [IamRequest(f"dynamodb:{call.operation}", arn, context)]
    return mapper


def _ddb_batch(call: AwsCall, target: Target) -> list[IamRequest]:
    items = _required(call, "RequestItems")
    out = []
    for table, request in items.items():
        if call.operation == "BatchGetItem":
            keys = list((request or {}).get("Keys") or [])
        else:
            keys = [next(iter(w.values())).get("Key") or next(iter(w.values())).get("Item") for w in request or []]
        out.append(IamRequest(f"dynamodb:{call.operation}", _table_arn(target, str(table)),
                              {**_ddb_context(call.params), **_leading_keys(target, str(table), keys)}))
    return out


_TRANSACT_WRITE = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                   "ConditionCheck": "ConditionCheckItem"}


def _ddb_transact(call: AwsCall, target: Target) -> list[IamRequest]:
    kinds = _TRANSACT_WRITE if call.operation == "TransactWriteItems" else {"Get": "GetItem"}
    out = []
    for number, item in enumerate(_required(call, "TransactItems")):
        kind = next((k for k in item if k in kinds), None)
        if kind is None:
            raise UnknownCall(f"dynamodb.{call.operation}: item {number} is none of {sorted(kinds)}: {sorted(item)}")
        table = str(item[kind]["TableName"])
        out.append(IamRequest(f"dynamodb:{kinds[kind]}", _table_arn(target, table),
                              {**_ddb_context(item[kind]), **_leading_keys(target, table, _item_keys(item[kind]))}))
    return out


def _everything(action: str) -> Mapper:
    return lambda call, target: [IamRequest(action, "*")]


_DDB: dict[str, Mapper] = {
    **{op: _ddb_table() for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable",
                                   "CreateTable", "UpdateTable", "DeleteTable", "DescribeTimeToLive",
                                   "UpdateTimeToLive", "DescribeContinuousBackups", "UpdateContinuousBackups")},
    **{op: _ddb_table(param="ResourceArn") for op in ("ListTagsOfResource", "TagResource", "UntagResource")},
    "Query": _ddb_table(index=True),
    "Scan": _ddb_table(index=True),
    "BatchGetItem": _ddb_batch,
    "BatchWriteItem": _ddb_batch,
    "TransactWriteItems": _ddb_transact,
    "TransactGetItems": _ddb_transact,
    "ListTables": _everything("dynamodb:ListTables"),
}

# --------------------------------------------------------------------------------------------- SQS


def _queue_arn(call: AwsCall, target: Target) -> str:
    if call.params.get("QueueUrl"):
        name = urlparse(str(call.params["QueueUrl"])).path.rstrip("/").rsplit("/", 1)[-1]
    else:
        name = str(_required(call, "QueueName"))
    return target.arn("sqs", target.name(name))


def _sqs(action: str) -> Mapper:
    return lambda call, target: [IamRequest(f"sqs:{action}", _queue_arn(call, target))]


_SQS: dict[str, Mapper] = {
    "SendMessage": _sqs("SendMessage"),
    "SendMessageBatch": _sqs("SendMessage"),  # IAM has no SendMessageBatch action
    "ReceiveMessage": _sqs("ReceiveMessage"),
    "DeleteMessage": _sqs("DeleteMessage"),
    "DeleteMessageBatch": _sqs("DeleteMessage"),
    "ChangeMessageVisibility": _sqs("ChangeMessageVisibility"),
    "ChangeMessageVisibilityBatch": _sqs("ChangeMessageVisibility"),
    "GetQueueAttributes": _sqs("GetQueueAttributes"),
    "SetQueueAttributes": _sqs("SetQueueAttributes"),
    "GetQueueUrl": _sqs("GetQueueUrl"),
    "PurgeQueue": _sqs("PurgeQueue"),
    "CreateQueue": _sqs("CreateQueue"),
    "DeleteQueue": _sqs("DeleteQueue"),
    "ListQueues": _everything("sqs:ListQueues"),
}

# --------------------------------------------------------------------------------------------- SNS


def _topic_arn(value: str, target: Target) -> str:
    resource = _arn_resource(value)
    if "/" in resource:  # a platform endpoint or application: keep its path
        return target.arn("sns", resource)
    return target.arn("sns", target.name(resource))


def _sns_publish(call: AwsCall, target: Target) -> list[IamRequest]:
    destination = call.params.get("TopicArn") or call.params.get("TargetArn")
    if destination:
        return [IamRequest("sns:Publish", _topic_arn(str(destination), target))]
    if call.params.get("PhoneNumber"):
        return [IamRequest("sns:Publish", "*")]  # a direct SMS has no topic: AWS checks Resource "*"
    raise UnknownCall("sns.Publish: none of TopicArn, TargetArn, PhoneNumber")


def _sns_topic(action: str) -> Mapper:
    return lambda call, target: [IamRequest(f"sns:{action}", _topic_arn(str(_required(call, "TopicArn")), target))]


_SNS: dict[str, Mapper] = {
    "Publish": _sns_publish,
    "PublishBatch": _sns_topic("Publish"),
    "GetTopicAttributes": _sns_topic("GetTopicAttributes"),
    "CreateTopic": lambda call, target: [IamRequest("sns:CreateTopic",
                                                    target.arn("sns", target.name(str(_required(call, "Name")))))],
}

# --------------------------------------------------------------------------------------------- SSM


def parameter_arn(name: str, target: Target) -> str:
    """`/bank/jwt/key`, `bank/jwt/key`, `key:3` (a version selector) or an ARN → `...:parameter/bank/jwt/key`."""
    if name.startswith("arn:"):
        name = _arn_resource(name).removeprefix("parameter")
    name = target.name(name).split(":", 1)[0]
    return target.arn("ssm", "parameter/" + name.lstrip("/"))


def _ssm_one(action: str, param: str = "Name") -> Mapper:
    return lambda call, target: [IamRequest(f"ssm:{action}", parameter_arn(str(_required(call, param)), target))]


def _ssm_many(call: AwsCall, target: Target) -> list[IamRequest]:
    return [IamRequest("ssm:GetParameters", parameter_arn(str(n), target)) for n in _required(call, "Names")]


_SSM: dict[str, Mapper] = {
    "GetParameter": _ssm_one("GetParameter"),
    "GetParameters": _ssm_many,
    "GetParametersByPath": _ssm_one("GetParametersByPath", "Path"),
    "GetParameterHistory": _ssm_one("GetParameterHistory"),
    "PutParameter": _ssm_one("PutParameter"),
    "DeleteParameter": _ssm_one("DeleteParameter"),
}

# ------------------------------------------------------------------------------------------ Lambda


def function_arn(function_name: str, qualifier: str | None, target: Target) -> str:
    """A function name, name:qualifier, account:function:name[:qualifier] or full ARN → the ARN AWS checks."""
    parts = function_name.split(":")
    if function_name.startswith("arn:"):
        parts = parts[6:]  # arn:partition:lambda:region:account:function:NAME[:QUALIFIER]
    elif len(parts) >= 3 and parts[1] == "function":
        parts = parts[2:]  # account:function:NAME[:QUALIFIER]
    name, embedded = parts[0], (parts[1] if len(parts) > 1 else None)
    qualifier = qualifier or embedded
    arn = target.arn("lambda", f"function:{target.name(name)}")
    return f"{arn}:{qualifier}" if qualifier else arn


def _lambda(action: str) -> Mapper:
    def mapper(call: AwsCall, target: Target) -> list[IamRequest]:
        qualifier = call.params.get("Qualifier")
        arn = function_arn(str(_required(call, "FunctionName")), str(qualifier) if qualifier else None, target)
        return [IamRequest(f"lambda:{action}", arn)]
    return mapper


_LAMBDA: dict[str, Mapper] = {
    "Invoke": _lambda("InvokeFunction"),
    "InvokeWithResponseStream": _lambda("InvokeFunction"),
    "InvokeAsync": _lambda("InvokeAsync"),
    "GetFunction": _lambda("GetFunction"),
    "GetFunctionConfiguration": _lambda("GetFunctionConfiguration"),
}

# -------------------------------------------------------------------------------------- CloudWatch


def _put_metric_data(call: AwsCall, target: Target) -> list[IamRequest]:
    context: Context = {"cloudwatch:namespace": str(call.params["Namespace"])} if call.params.get("Namespace") else {}
    return [IamRequest("cloudwatch:PutMetricData", "*", context)]


_CLOUDWATCH: dict[str, Mapper] = {"PutMetricData": _put_metric_data}

# ------------------------------------------------------------------------------ EventBridge Scheduler


def role_arn(value: str, target: Target) -> str:
    """A role ARN (path kept) in the target's partition and account; the role's name goes through rename."""
    resource = _arn_resource(value)
    if not resource.startswith("role/"):
        resource = f"role/{resource}"
    path, _, name = resource.rpartition("/")
    return target.arn("iam", f"{path}/{target.name(name)}", region=False)


def _schedule(call: AwsCall, target: Target) -> list[IamRequest]:
    group = str(call.params.get("GroupName") or "default")
    arn = target.arn("scheduler", f"schedule/{target.name(group)}/{target.name(str(_required(call, 'Name')))}")
    out = [IamRequest(f"scheduler:{call.operation}", arn)]
    role = (call.params.get("Target") or {}).get("RoleArn")
    if call.operation in ("CreateSchedule", "UpdateSchedule") and role:
        out.append(IamRequest("iam:PassRole", role_arn(str(role), target),
                              {"iam:PassedToService": "scheduler.amazonaws.com"}))
    return out


_SCHEDULER: dict[str, Mapper] = {
    **{op: _schedule for op in ("CreateSchedule", "UpdateSchedule", "DeleteSchedule", "GetSchedule")},
    "ListSchedules": _everything("scheduler:ListSchedules"),
}

# ---------------------------------------------------------------------------------------------- S3


def _bucket(call: AwsCall, target: Target) -> str:
    bucket = str(_required(call, "Bucket"))
    if bucket.startswith("arn:"):
        raise UnknownCall(f"s3.{call.operation}: access point / ARN buckets are not mapped ({bucket})")
    return target.name(bucket)


def _s3_object(action: str, versioned: str | None = None) -> Mapper:
    def mapper(call: AwsCall, target: Target) -> list[IamRequest]:
        chosen = versioned if versioned and call.params.get("VersionId") else action
        resource = f"{_bucket(call, target)}/{_required(call, 'Key')}"
        return [IamRequest(f"s3:{chosen}", target.arn("s3", resource, region=False, account=False))]
    return mapper


def _s3_bucket(action: str) -> Mapper:
    return lambda call, target: [IamRequest(f"s3:{action}",
                                            target.arn("s3", _bucket(call, target), region=False, account=False))]


_S3: dict[str, Mapper] = {
    "PutObject": _s3_object("PutObject"),
    "GetObject": _s3_object("GetObject", "GetObjectVersion"),
    "HeadObject": _s3_object("GetObject", "GetObjectVersion"),  # IAM has no HeadObject action
    "DeleteObject": _s3_object("DeleteObject", "DeleteObjectVersion"),
    "ListObjectsV2": _s3_bucket("ListBucket"),
    "ListObjects": _s3_bucket("ListBucket"),
    "HeadBucket": _s3_bucket("ListBucket"),
}

# ------------------------------------------------------------------------------ Textract, Rekognition

# The KYC adapters' calls: these actions name no resource (AWS authorizes them on "*"); the images they read
# from S3 are read with the caller's role too, checked by the S3 mapping of the calls that put them there.
_TEXTRACT: dict[str, Mapper] = {"AnalyzeID": _everything("textract:AnalyzeID")}
_REKOGNITION: dict[str, Mapper] = {
    op: _everything(f"rekognition:{op}")
    for op in ("CompareFaces", "DetectFaces", "CreateFaceLivenessSession", "GetFaceLivenessSessionResults")}

# ------------------------------------------------------------------------------------------ EventBridge


def _put_events(call: AwsCall, target: Target) -> list[IamRequest]:
    """events:PutEvents on each entry's bus (by name or ARN; none is the account's default bus)."""
    out = []
    for entry in call.params.get("Entries") or []:
        bus = str(entry.get("EventBusName") or "default")
        name = bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus
        out.append(IamRequest("events:PutEvents", target.arn("events", f"event-bus/{target.name(name)}")))
    return out


_EVENTS: dict[str, Mapper] = {"PutEvents": _put_events}

# --------------------------------------------------------------------------------------------- STS

_STS: dict[str, Mapper] = {"GetCallerIdentity": lambda call, target: []}  # needs no permission

MAPPERS: dict[str, dict[str, Mapper]] = {
    "dynamodb": _DDB,
    "sqs": _SQS,
    "sns": _SNS,
    "ssm": _SSM,
    "lambda": _LAMBDA,
    "cloudwatch": _CLOUDWATCH,
    "scheduler": _SCHEDULER,
    "eventbridge": _EVENTS,
    "s3": _S3,
    "textract": _TEXTRACT,
    "rekognition": _REKOGNITION,
    "sts": _STS,
}
"""botocore service id → operation → mapper. A missing entry makes `requests_for` raise."""
