"""infra/iam: recording AWS calls per function, mapping them to IAM requests, resolving a SAM-translated
template's policies, and evaluating them with @cloud-copilot/iam-simulate (one node process per module)."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra import iam
from infra.iam import AwsCall, IamRequest, Resolver, Simulator, Target, UnknownCall, Unresolvable, requests_for

ACCOUNT = "111122223333"
AWS = Target("aws", "ap-east-1", ACCOUNT)
CN = Target("aws-cn", "cn-north-1", ACCOUNT)
STACK = "bank"
TABLE = f"{STACK}-CustomersTable"
TABLE_ARN = f"arn:aws:dynamodb:ap-east-1:{ACCOUNT}:table/{TABLE}"


def reqs(service: str, operation: str, params: dict[str, Any], target: Target = AWS) -> list[tuple[str, str]]:
    return [(r.action, r.resource) for r in requests_for(AwsCall("F", service, operation, params), target)]


# ------------------------------------------------------------------------------------------ mapping


def test_dynamodb_item_and_table_operations() -> None:
    for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable", "UpdateTimeToLive"):
        assert reqs("dynamodb", op, {"TableName": TABLE}) == [(f"dynamodb:{op}", TABLE_ARN)]
    # a table ARN from another account/region (moto's) is reduced to its name
    assert reqs("dynamodb", "GetItem", {"TableName": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}"}) == [
        ("dynamodb:GetItem", TABLE_ARN)]
    assert reqs("dynamodb", "Query", {"TableName": TABLE, "IndexName": "by_customer"}) == [
        ("dynamodb:Query", f"{TABLE_ARN}/index/by_customer")]
    assert reqs("dynamodb", "Query", {"TableName": TABLE}) == [("dynamodb:Query", TABLE_ARN)]
    assert reqs("dynamodb", "Scan", {"TableName": TABLE}) == [("dynamodb:Scan", TABLE_ARN)]
    [request] = requests_for(AwsCall("F", "dynamodb", "PutItem", {"TableName": TABLE, "ReturnValues": "ALL_OLD"}), AWS)
    assert request.context == {"dynamodb:ReturnValues": "ALL_OLD"}


def test_dynamodb_batches_and_transactions() -> None:
    other = f"arn:aws:dynamodb:ap-east-1:{ACCOUNT}:table/bank-Ledger"
    assert reqs("dynamodb", "BatchGetItem", {"RequestItems": {TABLE: {"Keys": []}, "bank-Ledger": {"Keys": []}}}) == [
        ("dynamodb:BatchGetItem", TABLE_ARN), ("dynamodb:BatchGetItem", other)]
    assert reqs("dynamodb", "BatchWriteItem", {"RequestItems": {TABLE: [{"DeleteRequest": {}}]}}) == [
        ("dynamodb:BatchWriteItem", TABLE_ARN)]
    items = [{"Put": {"TableName": TABLE, "Item": {}}}, {"Update": {"TableName": "bank-Ledger", "Key": {}}},
             {"Delete": {"TableName": TABLE, "Key": {}}}, {"ConditionCheck": {"TableName": "bank-Ledger", "Key": {}}}]
    assert reqs("dynamodb", "TransactWriteItems", {"TransactItems": items, "ClientRequestToken": "x"}) == [
        ("dynamodb:PutItem", TABLE_ARN), ("dynamodb:UpdateItem", other),
        ("dynamodb:DeleteItem", TABLE_ARN), ("dynamodb:ConditionCheckItem", other)]
    assert reqs("dynamodb", "TransactGetItems", {"TransactItems": [{"Get": {"TableName": TABLE, "Key": {}}}]}) == [
        ("dynamodb:GetItem", TABLE_ARN)]
    with pytest.raises(UnknownCall, match="item 0"):
        reqs("dynamodb", "TransactWriteItems", {"TransactItems": [{"Frobnicate": {}}]})


def test_put_events_is_asked_of_each_entrys_bus_by_name_or_arn() -> None:
    bus = f"arn:aws-cn:events:cn-north-1:{ACCOUNT}:event-bus/bank-domain-events"
    entries = [{"EventBusName": "bank-domain-events"}, {"EventBusName": bus}, {}]
    assert reqs("eventbridge", "PutEvents", {"Entries": entries}, CN) == [
        ("events:PutEvents", bus), ("events:PutEvents", bus),
        ("events:PutEvents", f"arn:aws-cn:events:cn-north-1:{ACCOUNT}:event-bus/default")]


def test_sqs_queue_urls_become_queue_arns_in_the_target_account() -> None:
    queue = f"arn:aws:sqs:ap-east-1:{ACCOUNT}:bank-Notify"
    for url in ("http://127.0.0.1:5000/123456789012/bank-Notify",
                "https://sqs.ap-east-1.amazonaws.com/123456789012/bank-Notify"):
        for op, action in (("SendMessage", "SendMessage"), ("SendMessageBatch", "SendMessage"),
                           ("ReceiveMessage", "ReceiveMessage"), ("DeleteMessage", "DeleteMessage"),
                           ("DeleteMessageBatch", "DeleteMessage"), ("GetQueueAttributes", "GetQueueAttributes")):
            assert reqs("sqs", op, {"QueueUrl": url}) == [(f"sqs:{action}", queue)]
    assert reqs("sqs", "SendMessage", {"QueueUrl": "https://sqs.cn-north-1.amazonaws.com.cn/1/bank-Notify"}, CN) == [
        ("sqs:SendMessage", f"arn:aws-cn:sqs:cn-north-1:{ACCOUNT}:bank-Notify")]


def test_sns_publish_to_a_topic_or_a_phone_number() -> None:
    assert reqs("sns", "Publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts", "Message": "m"}) == [
        ("sns:Publish", f"arn:aws:sns:ap-east-1:{ACCOUNT}:alerts")]
    assert reqs("sns", "Publish", {"PhoneNumber": "+8613900000001", "Message": "m"}) == [("sns:Publish", "*")]
    assert reqs("sns", "Publish", {"TopicArn": "arn:aws:sns:x:1:alerts"}, CN) == [
        ("sns:Publish", f"arn:aws-cn:sns:cn-north-1:{ACCOUNT}:alerts")]


def test_ssm_parameter_arns_have_one_slash() -> None:
    arn = f"arn:aws:ssm:ap-east-1:{ACCOUNT}:parameter/bank/jwt/private-key"
    assert reqs("ssm", "GetParameter", {"Name": "/bank/jwt/private-key", "WithDecryption": True}) == [
        ("ssm:GetParameter", arn)]
    assert reqs("ssm", "GetParameter", {"Name": "bank/jwt/private-key"}) == [("ssm:GetParameter", arn)]
    assert reqs("ssm", "GetParameter", {"Name": "/bank/jwt/private-key:3"}) == [("ssm:GetParameter", arn)]
    assert reqs("ssm", "GetParameter", {"Name": "arn:aws:ssm:us-east-1:1:parameter/bank/jwt/private-key"}) == [
        ("ssm:GetParameter", arn)]
    assert reqs("ssm", "GetParameters", {"Names": ["/a", "b"]}) == [
        ("ssm:GetParameters", f"arn:aws:ssm:ap-east-1:{ACCOUNT}:parameter/a"),
        ("ssm:GetParameters", f"arn:aws:ssm:ap-east-1:{ACCOUNT}:parameter/b")]
    assert reqs("ssm", "GetParameter", {"Name": "/bank/k"}, CN) == [
        ("ssm:GetParameter", f"arn:aws-cn:ssm:cn-north-1:{ACCOUNT}:parameter/bank/k")]


@pytest.mark.parametrize(("params", "suffix"), [
    ({"FunctionName": "bank-AuthInternal"}, ""),
    ({"FunctionName": "bank-AuthInternal", "Qualifier": "live"}, ":live"),
    ({"FunctionName": "bank-AuthInternal:live"}, ":live"),
    ({"FunctionName": "123456789012:function:bank-AuthInternal:live"}, ":live"),
    ({"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:bank-AuthInternal:live"}, ":live"),
    ({"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:bank-AuthInternal", "Qualifier": "7"}, ":7"),
])
def test_lambda_invoke_names_the_function_or_its_qualifier(params: dict[str, Any], suffix: str) -> None:
    assert reqs("lambda", "Invoke", params) == [
        ("lambda:InvokeFunction", f"arn:aws:lambda:ap-east-1:{ACCOUNT}:function:bank-AuthInternal{suffix}")]
    assert reqs("lambda", "Invoke", params, CN) == [
        ("lambda:InvokeFunction", f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:function:bank-AuthInternal{suffix}")]


def test_cloudwatch_scheduler_and_s3() -> None:
    [metric] = requests_for(AwsCall("F", "cloudwatch", "PutMetricData", {"Namespace": "Bank", "MetricData": []}), AWS)
    assert (metric.action, metric.resource, metric.context) == ("cloudwatch:PutMetricData", "*",
                                                                 {"cloudwatch:namespace": "Bank"})
    create = requests_for(AwsCall("F", "scheduler", "CreateSchedule", {
        "Name": "retry-1", "GroupName": "bank-retries",
        "Target": {"Arn": "arn:aws:lambda:x:1:function:f",
                   "RoleArn": "arn:aws:iam::123456789012:role/svc/bank-Sched"}}), CN)
    assert [(r.action, r.resource, dict(r.context)) for r in create] == [
        ("scheduler:CreateSchedule", f"arn:aws-cn:scheduler:cn-north-1:{ACCOUNT}:schedule/bank-retries/retry-1", {}),
        ("iam:PassRole", f"arn:aws-cn:iam::{ACCOUNT}:role/svc/bank-Sched",
         {"iam:PassedToService": "scheduler.amazonaws.com"}),
    ]
    assert reqs("scheduler", "DeleteSchedule", {"Name": "retry-1"}) == [
        ("scheduler:DeleteSchedule", f"arn:aws:scheduler:ap-east-1:{ACCOUNT}:schedule/default/retry-1")]
    assert reqs("scheduler", "GetSchedule", {"Name": "r", "GroupName": "g"}) == [
        ("scheduler:GetSchedule", f"arn:aws:scheduler:ap-east-1:{ACCOUNT}:schedule/g/r")]
    for op, action in (("PutObject", "s3:PutObject"), ("GetObject", "s3:GetObject"), ("HeadObject", "s3:GetObject")):
        assert reqs("s3", op, {"Bucket": "bank-docs", "Key": "a/b.json"}) == [
            (action, "arn:aws:s3:::bank-docs/a/b.json")]
    assert reqs("s3", "PutObject", {"Bucket": "bank-docs", "Key": "k", "Body": b"x"}, CN) == [
        ("s3:PutObject", "arn:aws-cn:s3:::bank-docs/k")]


def test_unknown_calls_raise_and_names_can_be_renamed() -> None:
    with pytest.raises(UnknownCall, match="dynamodb.ExecuteStatement"):
        reqs("dynamodb", "ExecuteStatement", {"Statement": "SELECT * FROM t"})
    with pytest.raises(UnknownCall, match="kinesis.PutRecord"):
        reqs("kinesis", "PutRecord", {})
    with pytest.raises(UnknownCall, match="TableName"):
        reqs("dynamodb", "GetItem", {})
    renamed = Target("aws", "ap-east-1", ACCOUNT, rename={"test-CustomersTable": TABLE})
    assert reqs("dynamodb", "GetItem", {"TableName": "test-CustomersTable"}, renamed) == [
        ("dynamodb:GetItem", TABLE_ARN)]
    by_function = Target("aws", "ap-east-1", ACCOUNT, rename=lambda name: name.replace("test-", "bank-"))
    assert reqs("sqs", "SendMessage", {"QueueUrl": "http://x/1/test-Q"}, by_function) == [
        ("sqs:SendMessage", f"arn:aws:sqs:ap-east-1:{ACCOUNT}:bank-Q")]


# ------------------------------------------------------------------------------------------ resolver

RESOLVER_TEMPLATE: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "prod"}, "Names": {"Type": "CommaDelimitedList",
                                                                             "Default": "a,b"}},
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
    "Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "Named": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Fn::Sub": "${AWS::StackName}-named"}}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "FnAliaslive": {"Type": "AWS::Lambda::Alias", "Properties": {"FunctionName": {"Ref": "Fn"}, "Name": "live"}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/svc/"}},
        "Bus": {"Type": "AWS::Kinesis::Stream", "Properties": {}},
        "EventBus": {"Type": "AWS::Events::EventBus", "Properties": {}},
    },
}


def test_resolver_functions_and_derived_values() -> None:
    r = Resolver.for_template(RESOLVER_TEMPLATE, CN, STACK)
    assert r.resolve({"Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}"}) == (
        f"arn:aws-cn:x:cn-north-1:{ACCOUNT}:bank")
    assert r.resolve({"Fn::Sub": "${Table.Arn}/index/*"}) == (
        f"arn:aws-cn:dynamodb:cn-north-1:{ACCOUNT}:table/bank-Table/index/*")
    assert r.resolve({"Fn::Sub": ["table/${t}-${Stage}", {"t": {"Ref": "Named"}}]}) == "table/bank-named-prod"
    assert r.resolve({"Fn::Sub": "${!Literal}-${Stage}"}) == "${Literal}-prod"
    assert r.resolve({"Fn::Join": [":", ["a", {"Ref": "Stage"}, {"Fn::Select": [1, {"Ref": "Names"}]}]]}) == "a:prod:b"
    assert r.resolve({"Fn::Select": [0, {"Fn::Split": ["/", "x/y"]}]}) == "x"
    assert r.resolve({"Fn::If": ["IsProd", "yes", "no"]}) == "yes"
    assert r.resolve(["a", {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, "b"]}]) == ["a"]
    assert r.resolve({"k": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, 1]}, "j": 2}) == {"j": 2}
    assert r.resolve({"Ref": "Queue"}) == f"https://sqs.cn-north-1.amazonaws.com.cn/{ACCOUNT}/bank-Queue"
    assert r.resolve({"Fn::GetAtt": ["Queue", "QueueName"]}) == "bank-Queue"
    assert r.resolve({"Fn::GetAtt": "Queue.Arn"}) == f"arn:aws-cn:sqs:cn-north-1:{ACCOUNT}:bank-Queue"
    assert r.resolve({"Ref": "FnAliaslive"}) == f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:function:bank-Fn:live"
    assert r.resolve({"Fn::GetAtt": ["Role", "Arn"]}) == f"arn:aws-cn:iam::{ACCOUNT}:role/svc/bank-Role"
    assert r.resolve({"Fn::GetAtt": ["EventBus", "Arn"]}) == \
        f"arn:aws-cn:events:cn-north-1:{ACCOUNT}:event-bus/bank-EventBus"
    named = Resolver.for_template(RESOLVER_TEMPLATE, AWS, STACK, parameters={"Stage": "dev"},
                                  physical_names={"Table": "test-Table"})
    assert named.resolve({"Ref": "Table"}) == "test-Table"
    assert named.resolve({"Fn::If": ["IsProd", "yes", "no"]}) == "no"
    given = Resolver(AWS, STACK, refs={"X": "x-name"}, attributes={"X.Arn": "arn:x"})
    assert given.resolve({"Fn::Sub": "${X}|${X.Arn}"}) == "x-name|arn:x"


@pytest.mark.parametrize(("value", "where"), [
    ({"Ref": "Missing"}, r"\$\.a\[1\]\.Ref: no value for 'Missing'"),
    ({"Fn::Sub": "${Missing.Arn}"}, r"\$\.a\[1\]\.Fn::Sub:\$\{Missing\.Arn\}"),
    ({"Fn::GetAtt": ["Bus", "Arn"]}, r"AWS::Kinesis::Stream is not derived"),
    ({"Fn::GetAtt": ["Table", "StreamArn"]}, r"attribute not derived"),
    ({"Fn::ImportValue": "x"}, r"Fn::ImportValue is not supported"),
    ({"Fn::If": ["Nope", 1, 2]}, r"unknown condition 'Nope'"),
])
def test_resolver_names_the_path_of_what_it_cannot_resolve(value: Any, where: str) -> None:
    r = Resolver.for_template(RESOLVER_TEMPLATE, AWS, STACK)
    with pytest.raises(Unresolvable, match=where):
        r.resolve({"a": ["x", value]})


# ------------------------------------------------------------------------------- SAM-translated policies


class NoManagedPolicies:
    """As in tests/contract/test_template.py: offline, samtranslator's bundled map is all there is."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: dict[str, Any]) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-east-1")
    result: dict[str, Any] = transform(copy.deepcopy(template), {}, NoManagedPolicies())
    return result


SMS_ONLY = {"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*",
                           "Condition": {"StringEquals": {"sns:Protocol": "sms"}}}]}
SAM_TEMPLATE: dict[str, Any] = {
    "Transform": "AWS::Serverless-2016-10-31",
    "Parameters": {"JwtPrivateKeyParam": {"Type": "String", "Default": "/bank/jwt/private-key"}},
    "Resources": {
        "CustomersTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}},
        "NotificationQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        # as template.yaml had it: the parameter's leading "/" after SAM's "parameter/" → "parameter//bank/..."
        "WriterFunction": {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": "s3://bank-artifacts/user.zip", "Handler": "app.app", "Runtime": "python3.11",
            "Tracing": "Active", "AutoPublishAlias": "live",
            "Policies": [
                {"DynamoDBCrudPolicy": {"TableName": {"Ref": "CustomersTable"}}},
                {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["NotificationQueue", "QueueName"]}}},
                {"SSMParameterReadPolicy": {"ParameterName": {"Fn::Sub": "${JwtPrivateKeyParam}"}}},
                SMS_ONLY,
            ]}},
        # the same two grants written so that they work
        "FixedFunction": {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": "s3://bank-artifacts/user.zip", "Handler": "app.app", "Runtime": "python3.11",
            "Policies": [
                {"SSMParameterReadPolicy": {"ParameterName": "bank/jwt/private-key"}},
                {"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]},
            ]}},
    },
}


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate(SAM_TEMPLATE)


@pytest.fixture(scope="module")
def policies(translated: dict[str, Any]) -> dict[str, iam.FunctionPolicies]:
    return iam.all_function_policies(translated, Resolver.for_template(translated, AWS, STACK))


def verdicts(sim: Simulator, fp: iam.FunctionPolicies, requests: list[IamRequest]) -> list[dict[str, Any]]:
    cases: list[iam.simulator.Case] = [
        {"id": str(i), "action": r.action, "resource": r.resource, "context": dict(r.context),
         "policies": [p.to_simulator() for p in fp.policies], "accountId": ACCOUNT} for i, r in enumerate(requests)]
    return [dict(v) for v in sim.evaluate(cases)]


def test_function_policies_of_a_translated_template(policies: dict[str, iam.FunctionPolicies]) -> None:
    writer = policies["WriterFunction"]
    assert writer.role == "WriterFunctionRole"
    assert writer.role_arn == f"arn:aws:iam::{ACCOUNT}:role/bank-WriterFunctionRole"
    assert [p.name for p in writer.policies] == [f"WriterFunctionRolePolicy{i}" for i in range(4)]
    crud = writer.policies[0].document["Statement"][0]
    assert crud["Resource"] == [TABLE_ARN, f"{TABLE_ARN}/index/*"]
    queue = writer.policies[1].document["Statement"][0]["Resource"]
    assert queue == f"arn:aws:sqs:ap-east-1:{ACCOUNT}:bank-NotificationQueue"
    ssm = writer.policies[2].document["Statement"][1]["Resource"]
    assert ssm == f"arn:aws:ssm:ap-east-1:{ACCOUNT}:parameter//bank/jwt/private-key"  # SAM's double slash
    assert set(writer.managed_policy_arns) == {"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                                               "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"}
    assert writer.unevaluated_managed_policies == ()  # the runtime's own are exempt
    assert iam.is_runtime_managed_policy("arn:aws-cn:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    assert not iam.is_runtime_managed_policy("arn:aws:iam::aws:policy/AdministratorAccess")
    assert set(policies) == {"WriterFunction", "FixedFunction"}


def test_ssm_policy_with_a_leading_slash_denies_the_parameter(
        simulator: Simulator, policies: dict[str, iam.FunctionPolicies]) -> None:
    call = AwsCall("WriterFunction", "ssm", "GetParameter", {"Name": "/bank/jwt/private-key", "WithDecryption": True})
    [buggy] = verdicts(simulator, policies["WriterFunction"], requests_for(call, AWS))
    assert buggy["decision"] == "ImplicitlyDenied"
    assert "parameter//bank/jwt/private-key" in buggy["explanation"]
    [fixed] = verdicts(simulator, policies["FixedFunction"], requests_for(call, AWS))
    assert fixed["decision"] == "Allowed", fixed


def test_sns_protocol_condition_denies_a_publish_to_a_phone_number(
        simulator: Simulator, policies: dict[str, iam.FunctionPolicies]) -> None:
    call = AwsCall("WriterFunction", "sns", "Publish", {"PhoneNumber": "+8613900000001", "Message": "code 1234"})
    [conditioned] = verdicts(simulator, policies["WriterFunction"], requests_for(call, AWS))
    assert conditioned["decision"] == "ImplicitlyDenied"
    assert "sns:Protocol" in conditioned["explanation"]
    [plain] = verdicts(simulator, policies["FixedFunction"], requests_for(call, AWS))
    assert plain["decision"] == "Allowed", plain
    # a Publish to a topic is denied by the condition too (sns:Protocol is not in a Publish request)
    topic = AwsCall("WriterFunction", "sns", "Publish", {"TopicArn": "arn:aws:sns:ap-east-1:1:t"})
    [to_topic] = verdicts(simulator, policies["WriterFunction"], requests_for(topic, AWS))
    assert to_topic["decision"] == "ImplicitlyDenied"
    assert "key absent from the request" in to_topic["explanation"]


def test_a_star_request_needs_a_star_statement(simulator: Simulator) -> None:
    """AWS checks a Publish to a phone number against the literal resource "*" (the simulator alone would
    read "*" as "some resource", which an Allow on one topic matches)."""
    allow_star = {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}
    deny_topics = {"Effect": "Deny", "Action": "sns:Publish", "Resource": "arn:aws:sns:*:*:*"}
    one_topic = {"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:*:*:alerts"}
    cases: list[iam.simulator.Case] = [
        {"id": name, "action": "sns:Publish", "resource": "*", "context": {}, "policies": [{"Statement": statements}]}
        for name, statements in (("star", [allow_star, deny_topics]), ("topic", [one_topic]),
                                 ("denied", [allow_star, {**allow_star, "Effect": "Deny"}]))]
    results = {r["id"]: r for r in simulator.evaluate(cases)}
    assert results["star"]["decision"] == "Allowed"
    assert results["topic"]["decision"] == "ImplicitlyDenied"
    assert "only on specific resources" in results["topic"]["explanation"]
    assert results["denied"]["decision"] == "ExplicitlyDenied"


def test_grants_mode(simulator: Simulator) -> None:
    policy = {"Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"], "Resource": TABLE_ARN},
        {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData", "sns:Publish"], "Resource": "*"},
        {"Effect": "Deny", "Action": "sns:Publish", "Resource": "*"}]}
    [result] = simulator.grants([{"id": "F", "resources": [TABLE_ARN, "*"], "policies": [policy],
                                  "extraActions": ["dynamodb:Scan", "dynamodb:Frobnicate"]}])
    table, star = result["resources"]
    assert [(a["action"], a["accessLevel"]) for a in table["actions"]] == [("dynamodb:PutItem", "Write"),
                                                                          ("dynamodb:Scan", "Read")]
    assert table["errors"] == ["dynamodb:Frobnicate: invalid.action"]
    assert [a["action"] for a in star["actions"]] == ["cloudwatch:PutMetricData"]


def test_one_document_on_stdin(tmp_path: Path) -> None:
    import json
    import subprocess

    document = {"evaluate": [{"id": "1", "action": "dynamodb:GetItem", "resource": TABLE_ARN, "context": {},
                              "policies": [{"Statement": [{"Effect": "Allow", "Action": "dynamodb:*",
                                                           "Resource": TABLE_ARN}]}]}]}
    proc = subprocess.run(["node", str(iam.simulator.SCRIPT)], input=json.dumps(document), capture_output=True,
                          text=True, timeout=60, check=True)
    assert json.loads(proc.stdout)["evaluate"][0]["decision"] == "Allowed"


def test_policies_resolved_for_aws_cn(simulator: Simulator, translated: dict[str, Any]) -> None:
    cn = iam.function_policies(translated, "WriterFunction", Resolver.for_template(translated, CN, STACK))
    assert cn.role_arn.startswith("arn:aws-cn:iam::")
    get = AwsCall("WriterFunction", "dynamodb", "GetItem", {"TableName": TABLE})
    send = AwsCall("WriterFunction", "sqs", "SendMessage", {"QueueUrl": f"http://localhost/1/{STACK}-NotificationQueue"})
    results = verdicts(simulator, cn, requests_for(get, CN) + requests_for(send, CN) + requests_for(get, AWS))
    assert [r["decision"] for r in results] == ["Allowed", "Allowed", "ImplicitlyDenied"]
    assert "partitionMismatch" in results[2]["explanation"]


def test_simulator_rejects_an_action_iam_does_not_know(simulator: Simulator) -> None:
    policy = {"Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}
    [result] = simulator.evaluate([{"id": "x", "action": "dynamodb:TransactWriteItems", "resource": TABLE_ARN,
                                    "context": {}, "policies": [policy]}])
    assert result["decision"] == "Error" and result.get("error") == "invalid.action"


def test_check_reports_denied_calls_and_unused_writes(
        simulator: Simulator, policies: dict[str, iam.FunctionPolicies]) -> None:
    f = "WriterFunction"
    calls = [
        AwsCall(f, "dynamodb", "GetItem", {"TableName": TABLE, "Key": {"pk": {"S": "1"}}}),
        AwsCall(f, "dynamodb", "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "1"}}}),
        AwsCall(f, "dynamodb", "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "2"}}}),
        AwsCall(f, "sqs", "SendMessage", {"QueueUrl": f"http://127.0.0.1:5000/123456789012/{STACK}-NotificationQueue"}),
        AwsCall(f, "ssm", "GetParameter", {"Name": "/bank/jwt/private-key"}),
        AwsCall(f, "dynamodb", "ExecuteStatement", {"Statement": "SELECT"}),
        AwsCall("GhostFunction", "dynamodb", "GetItem", {"TableName": TABLE}),
    ]
    report = iam.check(calls, policies, AWS, extra_actions=iam.DEFAULT_EXTRA_ACTIONS, simulator=simulator)
    assert not report.ok
    assert [(d.function, d.action, d.count) for d in report.denied] == [(f, "ssm:GetParameter", 1)]
    assert "parameter//bank/jwt/private-key" in report.denied[0].explanation
    unused = {(u.action, u.resource) for u in report.unused_by_function()[f]}
    assert {("dynamodb:DeleteItem", TABLE_ARN), ("dynamodb:BatchWriteItem", TABLE_ARN),
            ("dynamodb:UpdateItem", TABLE_ARN), ("dynamodb:Scan", TABLE_ARN)} == unused
    assert ("dynamodb:PutItem", TABLE_ARN) in report.used[f]
    assert {(e.function, e.subject) for e in report.errors} == {(f, "dynamodb.ExecuteStatement"),
                                                                ("GhostFunction", "dynamodb.GetItem")}
    assert report.unexercised == ["FixedFunction"]
    assert report.unprobed == {f: [f"{TABLE_ARN}/index/*"]}
    assert "DENIED WriterFunction: ssm:GetParameter" in report.format()

    exempted = iam.check(calls[:4], policies, AWS, simulator=simulator,
                         allow_unused={"*": ["dynamodb:Update*"], f: ["dynamodb:BatchWriteItem"]})
    assert exempted.denied == [] and exempted.errors == []
    assert [(u.action, u.access_level) for u in exempted.unused] == [("dynamodb:DeleteItem", "Write")]


# ------------------------------------------------------------------------------------------ recorder


@pytest.fixture
def recorder() -> iam.Recorder:
    return iam.Recorder(sink_env=None)


def test_botocore_calls_under_moto_are_recorded_with_the_current_function(
        recorder: iam.Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session
    from moto import mock_aws

    for name in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    with mock_aws():
        session = botocore.session.get_session()
        iam.install(session, recorder)
        iam.install(session, recorder)  # idempotent
        client = session.create_client("dynamodb", region_name="ap-east-1")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        item: dict[str, dict[str, Any]] = {"pk": {"S": "1"}, "blob": {"B": b"\x00\x01"}}
        with iam.running("WriterFunction"):
            client.put_item(TableName=TABLE, Item=item)
            with iam.running("FixedFunction"):
                client.get_item(TableName=TABLE, Key={"pk": {"S": "1"}})
            # what the lean DynamoDB transport emits for its own calls
            client.meta.events.emit("before-parameter-build.dynamodb.TransactWriteItems",
                                    params={"TransactItems": [{"Put": {"TableName": TABLE, "Item": {}}}]},
                                    model=client.meta.service_model.operation_model("TransactWriteItems"))
        item["pk"]["S"] = "changed"
        client.describe_table(TableName=TABLE)
        recorder.uninstall(client)  # the client holds its own copy of the session's handlers
        with iam.running("WriterFunction"):
            client.get_item(TableName=TABLE, Key={"pk": {"S": "1"}})
    assert iam.current_function.get() is None
    assert [(c.function, c.service, c.operation) for c in recorder.calls] == [
        ("WriterFunction", "dynamodb", "PutItem"), ("FixedFunction", "dynamodb", "GetItem"),
        ("WriterFunction", "dynamodb", "TransactWriteItems")]
    assert recorder.calls[0].params["Item"]["pk"] == {"S": "1"}  # a copy, taken before the call
    assert recorder.calls[0].params["Item"]["blob"]["B"]["length"] == 2
    assert recorder.unattributed == {"dynamodb.CreateTable": 1, "dynamodb.DescribeTable": 1}
    assert requests_for(recorder.calls[2], AWS) == [IamRequest("dynamodb:PutItem", TABLE_ARN)]


def test_in_process_records_and_the_json_lines_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = tmp_path / "calls.jsonl"
    monkeypatch.setenv(iam.RECORD_ENV, str(sink))
    other_process = iam.Recorder()  # as the local run would have it: the sink comes from the environment
    with iam.running("RegisterCustomerFunction"):
        iam.record("lambda", "Invoke", {"FunctionName": "bank-AuthInternal:live", "Payload": b"{}"},
                   recorder=other_process)
    iam.record("sqs", "ListQueues", {}, recorder=other_process)
    iam.record("ssm", "GetParameter", {"Name": "/x"}, function="AuthorizerFunction", recorder=other_process)
    loaded = iam.load([sink, tmp_path / "absent.jsonl"])
    assert loaded.calls == other_process.calls
    assert [(c.function, c.operation) for c in loaded.calls] == [("RegisterCustomerFunction", "Invoke"),
                                                                 ("AuthorizerFunction", "GetParameter")]
    assert loaded.unattributed == {"sqs.ListQueues": 1}
    assert loaded.functions() == {"RegisterCustomerFunction", "AuthorizerFunction"}
