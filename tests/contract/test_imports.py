"""Contract: every handler imports the way Lambda imports it, and no center reaches into another.

1. For each center, a fresh interpreter with only the layer and that center's CodeUri on PYTHONPATH (as
   `/opt/python` and the task root are in Lambda) imports `app` and finds every handler the template names.
   Another center's package is not on that path, so needing it fails the import. Nor may importing `app`
   load what a cold start cannot afford (docs/benchmarks.md): pydantic, boto3 (clients come from one
   botocore session), the JWT library (loaded by the calls that sign or verify), or the X-Ray SDK
   without a daemon.
6. Static check (ast) of every module under functions/<center>/ and the shared layer: no center imports
   another center's package, and the layer imports no center package, nothing of infra/ or tests/.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from infra import centers, template

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common" / "python"
LAYER_PACKAGE = LAYER / "bank_common"
CENTER_PACKAGE = re.compile(r"^\w+_center$")


def handlers_by_code_uri() -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for fn in template.functions():
        module, _, attr = fn.handler.partition(".")
        assert module == "app" and attr, f"{fn.logical_id}: Handler {fn.handler!r} is not app.<name>"
        out[fn.code_uri].add(attr)
    return dict(out)


PROBE = r"""
import importlib, json, sys
names = json.loads(sys.argv[1])
own = sys.argv[2]
import app
result = {"missing": [], "not_callable": [], "foreign": [], "layer": None}
for name in names:
    if not hasattr(app, name):
        result["missing"].append(name)
    elif not callable(getattr(app, name)):
        result["not_callable"].append(name)
result["foreign"] = sorted(m for m in sys.modules if m.split(".")[0].endswith("_center")
                           and m.split(".")[0] != own)
result["heavy"] = sorted({m.split(".")[0] for m in sys.modules} & {"pydantic", "boto3", "jwt", "aws_xray_sdk"})
import bank_common
result["layer"] = bank_common.__file__
result["app"] = app.__file__
print("RESULT " + json.dumps(result))
"""


def test_every_code_uri_is_a_center_folder() -> None:
    uris = handlers_by_code_uri()
    assert uris, "template.yaml defines no functions"
    for code_uri in uris:
        path = ROOT / code_uri
        assert (path / "app.py").is_file(), f"CodeUri {code_uri} has no app.py"
        assert Path(code_uri).parent == Path("functions"), f"CodeUri {code_uri} is not functions/<center>"
    assert {Path(u).name for u in uris} == set(centers.center_names()), \
        "every functions/<center>/app.py must be deployed by at least one template function, and vice versa"


@pytest.mark.parametrize("code_uri", sorted(handlers_by_code_uri()))
def test_handlers_import_with_only_layer_and_own_code(code_uri: str, tmp_path: Path) -> None:
    names = sorted(handlers_by_code_uri()[code_uri])
    center = Path(code_uri).name
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(LAYER), str(ROOT / code_uri)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "ap-east-1", "AWS_DEFAULT_REGION": "ap-east-1",
        "LAMBDA_TASK_ROOT": str(ROOT / code_uri),
        "CENTER": center,
    }
    # -P: do not put the working directory on sys.path; cwd is an empty folder anyway.
    proc = subprocess.run([sys.executable, "-P", "-c", PROBE, json.dumps(names), f"{center}_center"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"importing app from {code_uri} failed:\n{proc.stderr[-4000:]}"
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["missing"] == [], f"{code_uri}/app.py lacks handlers named in template.yaml: {result['missing']}"
    assert result["not_callable"] == [], f"{code_uri}/app.py handlers not callable: {result['not_callable']}"
    assert result["foreign"] == [], f"{code_uri} loaded other centers' packages: {result['foreign']}"
    assert result["heavy"] == [], f"importing {code_uri}/app.py loaded {result['heavy']} (cold-start cost)"
    assert Path(result["layer"]).resolve().is_relative_to(LAYER), result["layer"]
    assert Path(result["app"]).resolve() == (ROOT / code_uri / "app.py").resolve()


# ------------------------------------------------------------------------------------------ isolation


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute top-level-qualified module name) of every import in a file; relative imports are
    resolved against the file's package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Relative: stays inside the file's own package, which the caller checks by location.
                continue
            if node.module:
                out.append((node.lineno, node.module))
    return out


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_isolation_scan_finds_files() -> None:
    for center in centers.center_names():
        assert python_files(centers.FUNCTIONS / center), center
    assert python_files(LAYER_PACKAGE)


@pytest.mark.parametrize("center", centers.center_names())
def test_center_imports_no_other_center(center: str) -> None:
    own = f"{center}_center"
    bad = []
    for path in python_files(centers.FUNCTIONS / center):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if CENTER_PACKAGE.match(top) and top != own:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module} (another center's package)")
            if top in ("infra", "tests"):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module} (not deployed with the function)")
    assert not bad, "\n".join(bad)


def test_layer_imports_no_center_infra_or_tests() -> None:
    bad = []
    for path in python_files(LAYER_PACKAGE):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if CENTER_PACKAGE.match(top) or top in ("app", "infra", "tests"):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "the shared layer must stand alone:\n" + "\n".join(bad)


def test_import_scanner_sees_nested_and_from_imports(tmp_path: Path) -> None:
    """The scanner itself: imports inside functions and `from x.y import z` are found."""
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from user_center.store import get\n    import auth_center.logic as l\n")
    assert [m for _, m in imported_modules(sample)] == ["user_center.store", "auth_center.logic"]
