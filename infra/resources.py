"""Create every table and queue of template.yaml (on moto or DynamoDB Local) and derive the env vars
that the functions' `Environment` sections point at them with, so local names follow the template."""

from __future__ import annotations

from typing import Any

from infra import template

TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"


def physical_name(prefix: str, logical_id: str) -> str:
    return f"{prefix}-{logical_id}"


def create_tables(dynamodb: Any, prefix: str) -> list[str]:
    existing = set(dynamodb.list_tables().get("TableNames", []))
    created = []
    for logical_id, res in template.resources(TABLE).items():
        props = res["Properties"]
        name = physical_name(prefix, logical_id)
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
        dynamodb.create_table(**kwargs)
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        created.append(name)
    return created


def create_queues(sqs: Any, prefix: str) -> dict[str, str]:
    """Queues in dependency order (dead-letter queues first), redrive policies as in the template."""
    queues = template.resources(QUEUE)
    urls: dict[str, str] = {}

    def make(logical_id: str) -> str:
        if logical_id in urls:
            return urls[logical_id]
        props = queues[logical_id].get("Properties") or {}
        attributes = {}
        if props.get("VisibilityTimeout") is not None:
            attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
        redrive = props.get("RedrivePolicy")
        if redrive:
            dlq_logical = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            dlq_url = make(dlq_logical)
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            import json

            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn,
                                                      "maxReceiveCount": str(redrive["maxReceiveCount"])})
        urls[logical_id] = sqs.create_queue(QueueName=physical_name(prefix, logical_id),
                                            Attributes=attributes)["QueueUrl"]
        return urls[logical_id]

    for logical_id in queues:
        make(logical_id)
    return urls


def function_env(prefix: str, queue_urls: dict[str, str]) -> dict[str, str]:
    """The union of the functions' env vars that name tables and queues, resolved to local names."""
    tables = template.resources(TABLE)
    env: dict[str, str] = {}
    for fn in template.functions():
        for name, value in fn.env.items():
            target = template.ref_target(value)
            if target in tables:
                env[name] = physical_name(prefix, target)
            elif target in queue_urls:
                env[name] = queue_urls[target]
    return env


def provision(dynamodb: Any, sqs: Any, prefix: str) -> dict[str, str]:
    create_tables(dynamodb, prefix)
    return function_env(prefix, create_queues(sqs, prefix))
