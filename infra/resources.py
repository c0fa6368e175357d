"""Create what the templates declare on an emulated AWS (DynamoDB Local or moto): every table and queue of
every stack under its local physical name, and the token signing keys in SSM where the functions read them."""

from __future__ import annotations

import json
from typing import Any

from infra import template
from infra.runtime import Naming

TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
BUCKET = "AWS::S3::Bucket"
SCHEDULE_GROUP = "AWS::Scheduler::ScheduleGroup"
EVENT_BUS = "AWS::Events::EventBus"


def create_tables(dynamodb: Any, naming: Naming) -> list[str]:
    existing = set(dynamodb.list_tables().get("TableNames", []))
    created = []
    for logical_id, res in template.resources(TABLE).items():
        props = res["Properties"]
        name = naming.name(logical_id)
        if name in existing:
            continue
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        dynamodb.create_table(**kwargs)
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        created.append(name)
    return created


def create_queues(sqs: Any, naming: Naming) -> dict[str, str]:
    """Queues in dependency order (dead-letter queues first), redrive policies as in the templates."""
    queues = template.resources(QUEUE)
    urls: dict[str, str] = {}

    def make(logical_id: str) -> str:
        if logical_id in urls:
            return urls[logical_id]
        props = queues[logical_id].get("Properties") or {}
        attributes = {}
        if props.get("FifoQueue"):
            attributes["FifoQueue"] = "true"
        if props.get("VisibilityTimeout") is not None:
            attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = template.resolve(template.stack_of(logical_id).logical_id, redrive["deadLetterTargetArn"])
            assert isinstance(target, template.ResourceRef), f"{logical_id}: dead-letter target {target!r}"
            dlq_url = make(target.logical_id)
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn,
                                                      "maxReceiveCount": str(redrive["maxReceiveCount"])})
        urls[logical_id] = sqs.create_queue(QueueName=naming.name(logical_id), Attributes=attributes)["QueueUrl"]
        return urls[logical_id]

    for logical_id in queues:
        make(logical_id)
    return urls


# Where the local run and the tests choose the named fakes over the real adapters (never in the templates,
# whose functions name the real ones): pinned over each function's own environment.
FAKE_ADAPTERS = {"SMS_GATEWAY": "fake", "OCR_PROVIDER": "fake", "FACE_PROVIDER": "fake",
                 "CHANNEL_IDENTITY_PROVIDER": "fake", "BINDING_VERIFIER": "fake", "CLEARING_GATEWAY": "fake",
                 "PUSH_PROVIDER": "fake", "BILLER_GATEWAY": "fake"}


def parameter_name(parameter: str) -> str:
    """The SSM name a root parameter (e.g. JwtPrivateKeyParam) defaults to."""
    name = template.resolve(template.ROOT_STACK, {"Ref": parameter})
    assert isinstance(name, str)
    return name


def signing_key_parameters() -> tuple[str, str]:
    """The SSM names (root parameters' defaults) of the signing keyset and the public JWKS."""
    return parameter_name("JwtPrivateKeyParam"), parameter_name("JwtPublicKeyParam")


def store_signing_keys(ssm: Any, private_pem: str, public_pem: str | None = None) -> None:
    """A keyset of this one key (active) and its JWKS, where the functions read them (bank_common.tokens)."""
    from bank_common import tokens

    keyset = tokens.keyset_document([private_pem])
    private_name, public_name = signing_key_parameters()
    ssm.put_parameter(Name=private_name, Value=keyset, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name=public_name, Value=tokens.jwks_from_keyset(keyset), Type="String", Overwrite=True)


def store_center_secrets(ssm: Any, secrets_by_param: dict[str, str]) -> None:
    """Each center's secret (root parameter → value), as SecureStrings."""
    for parameter, value in secrets_by_param.items():
        ssm.put_parameter(Name=parameter_name(parameter), Value=value, Type="SecureString", Overwrite=True)


CENTER_SECRETS = ("AuthSecretParam", "UserSecretParam", "LifeBillerSecretsParam")
BILLER_CATALOG = template.ROOT / "functions" / "life" / "life_center" / "billers.json"


def new_center_secrets() -> dict[str, str]:
    import base64
    import os

    def random_secret() -> str:
        return base64.b64encode(os.urandom(32)).decode()

    secrets = {parameter: random_secret() for parameter in CENTER_SECRETS}
    # The billers' shared secrets are one JSON document, by the secret names of the biller catalog.
    names = sorted({b["callback_secret"] for b in json.loads(BILLER_CATALOG.read_text())})
    secrets["LifeBillerSecretsParam"] = json.dumps({name: random_secret() for name in names})
    return secrets


def create_buckets(s3: Any, naming: Naming) -> list[str]:
    """Every bucket of the templates under its local name (lower case, as S3 wants)."""
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    created = []
    for logical_id in template.resources(BUCKET):
        name = naming.name(logical_id)
        if name not in existing:
            s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": {"LocationConstraint": naming.region}}
                                              if naming.region != "us-east-1" else {}))
            created.append(name)
    return created


def stream_arn(dynamodb: Any, naming: Naming, logical_id: str) -> str:
    """The latest stream of a table that has one (DynamoDB Local and moto serve streams)."""
    return str(dynamodb.describe_table(TableName=naming.name(logical_id))["Table"]["LatestStreamArn"])


def create_schedule_groups(scheduler: Any, naming: Naming) -> list[str]:
    """EventBridge Scheduler groups (where centers create schedules at run time) under their local names."""
    created = []
    for logical_id in template.resources(SCHEDULE_GROUP):
        try:
            scheduler.create_schedule_group(Name=naming.name(logical_id))
        except scheduler.exceptions.ConflictException:
            continue  # kept from an earlier run (moto cannot list groups)
        created.append(naming.name(logical_id))
    return created


def create_event_buses(events: Any, naming: Naming) -> list[str]:
    """EventBridge buses (where centers put domain events) under their local names."""
    created = []
    for logical_id in template.resources(EVENT_BUS):
        try:
            events.create_event_bus(Name=naming.name(logical_id))
        except events.exceptions.ResourceAlreadyExistsException:
            continue  # kept from an earlier run, or made by the local run's rule bridge
        created.append(naming.name(logical_id))
    return created


def provision(dynamodb: Any, sqs: Any, naming: Naming, s3: Any = None) -> dict[str, str]:
    """Tables, queues, schedule groups (on the queues' endpoint: moto) and (given an S3 client) buckets; returns
    the queue URLs by logical id."""
    import boto3

    create_tables(dynamodb, naming)
    emulator = None if "amazonaws.com" in sqs.meta.endpoint_url else sqs.meta.endpoint_url  # moto server
    create_schedule_groups(boto3.client("scheduler", endpoint_url=emulator, region_name=sqs.meta.region_name),
                           naming)
    create_event_buses(boto3.client("events", endpoint_url=emulator, region_name=sqs.meta.region_name), naming)
    if s3 is not None:
        create_buckets(s3, naming)
    return create_queues(sqs, naming)
