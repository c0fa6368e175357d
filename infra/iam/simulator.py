"""The Python side of simulate.mjs: one long-lived `node simulate.mjs --serve` per Simulator, one JSON line
per batch each way. Node and `npm ci --prefix infra` (for @cloud-copilot/iam-simulate) are required."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, NotRequired, TypedDict

SCRIPT = Path(__file__).with_name("simulate.mjs")
NODE_MODULES = SCRIPT.parent.parent / "node_modules"

Decision = Literal["Allowed", "ImplicitlyDenied", "ExplicitlyDenied", "Error"]


class Case(TypedDict):
    id: str
    action: str
    resource: str
    context: Mapping[str, str | list[str]]
    policies: NotRequired[Sequence[Mapping[str, Any]]]  # documents, or {"name", "policy"}
    policySet: NotRequired[str]  # a key of the batch's policy_sets instead
    accountId: NotRequired[str]
    principal: NotRequired[str]


class Result(TypedDict):
    id: str
    decision: Decision
    explanation: str
    error: NotRequired[str]


class GrantsRequest(TypedDict):
    id: str
    resources: Sequence[str]
    extraActions: NotRequired[Sequence[str]]
    policies: NotRequired[Sequence[Mapping[str, Any]]]
    policySet: NotRequired[str]
    accountId: NotRequired[str]
    principal: NotRequired[str]


class GrantedAction(TypedDict):
    action: str
    accessLevel: str
    explanation: str


class ResourceGrants(TypedDict):
    resource: str
    actions: list[GrantedAction]
    errors: list[str]
    skipped: list[str]  # actions the ARN fits ambiguously (several resource types): not simulated


class GrantsResult(TypedDict):
    id: str
    resources: list[ResourceGrants]


class SimulatorError(RuntimeError):
    pass


class Simulator:
    """Evaluates batches with @cloud-copilot/iam-simulate in one node process (started on first use).

    Use as a context manager, or call close(). Thread-safe (batches are serialized)."""

    def __init__(self, node: str | None = None, script: Path = SCRIPT, timeout: float = 600.0) -> None:
        self.node = node or shutil.which("node") or "node"
        self.script = script
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                if proc.stdin:
                    proc.stdin.close()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if proc.stdout:
                    proc.stdout.close()
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

    def run(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """Send one document (see simulate.mjs) and return its reply."""
        line = (json.dumps(document, separators=(",", ":")) + "\n").encode()
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except BrokenPipeError as exc:
                raise SimulatorError(f"simulate.mjs exited: {self._stderr_text()}") from exc
            ready, _, _ = select.select([proc.stdout], [], [], self.timeout)
            if not ready:
                proc.kill()
                self._proc = None
                raise SimulatorError(f"simulate.mjs gave no answer in {self.timeout} s")
            reply_line = proc.stdout.readline()
        if not reply_line:
            self._proc = None
            raise SimulatorError(f"simulate.mjs exited: {self._stderr_text()}")
        reply: dict[str, Any] = json.loads(reply_line)
        if "error" in reply:
            raise SimulatorError(f"simulate.mjs failed: {reply['error']}")
        return reply

    def evaluate(self, cases: Sequence[Case], policy_sets: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                 ) -> list[Result]:
        results: list[Result] = self.run({"policySets": policy_sets or {}, "evaluate": list(cases)})["evaluate"]
        return results

    def grants(self, requests: Sequence[GrantsRequest],
               policy_sets: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> list[GrantsResult]:
        results: list[GrantsResult] = self.run({"policySets": policy_sets or {}, "grants": list(requests)})["grants"]
        return results

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        if not (NODE_MODULES / "@cloud-copilot" / "iam-simulate").is_dir():
            raise SimulatorError(f"{NODE_MODULES}/@cloud-copilot/iam-simulate is missing: run `npm ci --prefix infra`")
        if shutil.which(self.node) is None and not Path(self.node).is_file():
            raise SimulatorError(f"node ({self.node}) not found: Node 20+ is needed for the IAM checks")
        if self._stderr is None:
            self._stderr = tempfile.TemporaryFile()  # kept open for the process's life
        self._proc = subprocess.Popen([self.node, str(self.script), "--serve"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr, cwd=self.script.parent)
        return self._proc

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]
