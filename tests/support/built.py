"""The built artifacts (infra.package), run as Lambda would run them: each invocation a fresh interpreter whose
path holds only the function's built code (/var/task) and the merged built layers (/opt/python), with the
function's environment from the templates, against a moto server (and a Lambda Invoke API that runs the
other functions the same way, for cross-center calls)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import package, resources, servers, template
from infra.runtime import FunctionError, Naming, function_environment, timeout_of

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
REGION = "ap-east-1"


def merge_layers(build: package.Build, opt: Path) -> Path:
    """Lambda extracts every layer into /opt: one python/ folder holding both layers' packages."""
    python = opt / "python"
    shutil.rmtree(opt, ignore_errors=True)
    for site in (build.deps_site, build.common_site):
        shutil.copytree(site, python, dirs_exist_ok=True)
    return python


@dataclass
class BuiltPlatform:
    build: package.Build
    opt_python: Path
    naming: Naming
    queue_urls: dict[str, str]
    base_env: dict[str, str]
    runs: list[dict[str, Any]] = field(default_factory=list)  # every RESULT, with its function

    def env(self, logical_id: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        fn = template.function(logical_id)
        return {**self.base_env, **function_environment(fn, self.naming, self.queue_urls), **resources.FAKE_ADAPTERS,
                **(extra or {})}

    def run(self, logical_id: str, event: Any, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
        """One cold invocation: the RESULT line of the bootstrap (result or error, times, modules)."""
        fn = template.function(logical_id)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(event, fh)
        try:
            proc = subprocess.run([sys.executable, "-I", "-S", str(BOOTSTRAP), str(self.build.function_dir(fn.center)),
                                   str(self.opt_python), fn.handler, fh.name, str(timeout_of(fn))],
                                  env=self.env(logical_id, extra_env), capture_output=True, text=True,
                                  timeout=timeout_of(fn) + 60, cwd=self.build.function_dir(fn.center))
        finally:
            os.unlink(fh.name)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                result: dict[str, Any] = json.loads(line[len("RESULT "):])
                self.runs.append({"function": logical_id, **result})
                return result
        raise AssertionError(f"{logical_id} did not run ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-3000:]}")

    def invoke_arn(self, function_arn: str, event: Any) -> Any:
        """The Lambda Invoke API's side: another function, run the same way."""
        outcome = self.run(self.naming.function_logical_id(function_arn), event)
        if outcome["error"]:
            raise FunctionError(outcome["error"])
        return outcome["result"]


@contextlib.contextmanager
def running(build: package.Build, workdir: Path, signing_keys: tuple[str, str],
            center_secrets: dict[str, str] | None = None) -> Iterator[BuiltPlatform]:
    """A moto server with every table, queue and the signing keys, and a Lambda Invoke API, for the build."""
    import boto3
    from moto.server import ThreadedMotoServer

    from infra.dynamodb_local import free_port

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        clients = {name: boto3.client(name, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="smoke",
                                      aws_secret_access_key="smoke") for name in ("dynamodb", "sqs", "ssm", "s3")}
        naming = Naming(prefix="smoke", region=REGION)
        queue_urls = resources.provision(clients["dynamodb"], clients["sqs"], naming, clients["s3"])
        resources.store_signing_keys(clients["ssm"], *signing_keys)
        resources.store_center_secrets(clients["ssm"], center_secrets or resources.new_center_secrets())
        lambda_port = free_port()
        base_env = {
            "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
            "AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{lambda_port}",
            "AWS_ACCESS_KEY_ID": "smoke", "AWS_SECRET_ACCESS_KEY": "smoke",  # fake, local endpoints only
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "SMS_GATEWAY": "fake", "METRICS_DISABLED": "true",
            "LOG_LEVEL": "WARNING", "PYTHONDONTWRITEBYTECODE": "1",  # /var/task and /opt are read-only in Lambda
        }
        platform = BuiltPlatform(build, merge_layers(build, workdir / "opt"), naming, queue_urls, base_env)
        with servers.serving(servers.lambda_handler(platform.invoke_arn), lambda_port):
            yield platform
    finally:
        moto.stop()
