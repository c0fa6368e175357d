"""Create what the templates declare on an emulated AWS (DynamoDB Local or moto): every table and queue of
every stack under its local physical name, and the token signing keys in SSM where the functions read them."""

from __future__ import annotations

import json
from typing import Any

from infra import template
from infra.runtime import Naming

TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"


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


def signing_key_parameters() -> tuple[str, str]:
    """The SSM names (root parameters' defaults) the auth functions read the private and public key from."""
    private = template.resolve(template.ROOT_STACK, {"Ref": "JwtPrivateKeyParam"})
    public = template.resolve(template.ROOT_STACK, {"Ref": "JwtPublicKeyParam"})
    assert isinstance(private, str) and isinstance(public, str)
    return private, public


def store_signing_keys(ssm: Any, private_pem: str, public_pem: str) -> None:
    private_name, public_name = signing_key_parameters()
    ssm.put_parameter(Name=private_name, Value=private_pem, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name=public_name, Value=public_pem, Type="String", Overwrite=True)


def stream_arn(dynamodb: Any, naming: Naming, logical_id: str) -> str:
    """The latest stream of a table that has one (DynamoDB Local and moto serve streams)."""
    return str(dynamodb.describe_table(TableName=naming.name(logical_id))["Table"]["LatestStreamArn"])


def provision(dynamodb: Any, sqs: Any, naming: Naming) -> dict[str, str]:
    """Tables and queues; returns the queue URLs by logical id."""
    create_tables(dynamodb, naming)
    return create_queues(sqs, naming)
