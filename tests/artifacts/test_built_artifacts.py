"""The artifacts a deploy ships, built as a deploy builds them (infra.package), proven to run.

- Built for the template's architecture (arm64): every compiled module is an aarch64 binary, the deps layer
  stays within its size budget (README) and carries none of Chalice's command-line dependencies.
- Built for this machine: every function's handler, in a fresh interpreter whose path holds only the built
  layers (as /opt/python) and its built code (as /var/task), imports and answers its sample event from
  events/ against moto. What those interpreters imported is the proof that every package in the layer is
  used (or allowed, with a reason).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from infra import package, template
from tests.support import built, samples
from tests.support.figures import report

EM_AARCH64, EM_X86_64 = 183, 62
CLI_ONLY = ("pip", "setuptools", "wheel", "click", "inquirer", "blessed", "wcwidth", "yaml", "_yaml", "editor",
            "readchar", "runs", "xmod", "pkg_resources", "_distutils_hack")
# Distributions in the layer that no sample run imports, and why they stay.
ALLOWED_UNIMPORTED = {
    "aws_xray_sdk": "imported only where X-Ray tracing is on (Lambda with active tracing; docs/decisions/0003)",
    "wrapt": "the X-Ray SDK's patching library, loaded with it",
}


def elf_machine(path: Path) -> int | None:
    with path.open("rb") as fh:
        head = fh.read(20)
    if head[:4] != b"\x7fELF":
        return None
    return int(struct.unpack("<H", head[18:20])[0])


def test_every_compiled_module_is_built_for_the_template_architecture(deploy_build: package.Build) -> None:
    want = {"arm64": EM_AARCH64, "x86_64": EM_X86_64}[deploy_build.arch]
    binaries = [p for p in deploy_build.root.rglob("*") if p.is_file() and (p.suffix == ".so" or ".so." in p.name)]
    assert len(binaries) >= 4, binaries  # msgspec, cffi, argon2 bindings, cryptography, wrapt
    wrong = [str(p.relative_to(deploy_build.root)) for p in binaries if elf_machine(p) != want]
    assert not wrong, f"not {deploy_build.arch} binaries: {wrong}"


def test_deps_layer_is_within_its_budget_and_carries_no_cli(deploy_build: package.Build) -> None:
    site = deploy_build.deps_site
    size = package.deps_budget_bytes(site)
    report(f"\n  deps layer ({deploy_build.arch}) without the AWS SDK and bytecode: {size / 2**20:.2f} MB "
           f"(budget {package.DEPS_BUDGET_BYTES / 2**20:.0f} MB)")
    assert size <= package.DEPS_BUDGET_BYTES
    readme = (package.ROOT / "README.md").read_text()
    assert f"{package.DEPS_BUDGET_BYTES // 2**20} MB" in readme, "the README states the deps layer budget"
    present = {p.name for p in site.iterdir()}
    assert not present & set(CLI_ONLY), present & set(CLI_ONLY)
    assert not (site / "bin").exists()
    chalice = sorted(p.relative_to(site).as_posix() for p in (site / "chalice").rglob("*.py"))
    assert chalice == ["chalice/__init__.py", "chalice/app.py"], chalice


def test_templates_beside_the_build_point_at_built_folders(deploy_build: package.Build) -> None:
    from infra.deploy import load_template

    root = load_template(deploy_build.root / "template.yaml")
    assert "Metadata" not in root["Resources"]["DepsLayer"], "the deps layer is prebuilt: no BuildMethod"
    for layer in ("CommonLayer", "DepsLayer"):
        content = deploy_build.root / root["Resources"][layer]["Properties"]["ContentUri"]
        assert (content / "python").is_dir(), content
    for stack in template.stacks()[1:]:
        nested = deploy_build.root / stack.path.relative_to(package.ROOT)
        for res in load_template(nested)["Resources"].values():
            if res["Type"] == template.FUNCTION:
                code = (nested.parent / res["Properties"]["CodeUri"]).resolve()
                module = res["Properties"]["Handler"].split(".")[0]
                assert (code / f"{module}.py").is_file() and (code / "__pycache__").is_dir(), code


def runs() -> list[tuple[str, samples.Sample]]:
    out = []
    for sample in samples.samples():
        fn = samples.owner(sample)
        if fn is not None:
            out.append((fn.logical_id, sample))
    return out


def sample_event(sample: samples.Sample) -> Any:
    raw = sample.path.read_text(encoding="utf-8")
    if samples.TOKEN_PLACEHOLDER in raw:
        from bank_common import tokens

        event = json.loads(raw)
        principal = tokens.Principal(subject="c-0001", kind="customer", channel=event["headers"]["X-Channel"],
                                     device_id="d1")
        raw = raw.replace(samples.TOKEN_PLACEHOLDER, tokens.issue(principal)[0])
    return json.loads(raw)


@pytest.mark.parametrize(("logical_id", "sample"), runs(), ids=[samples.ids(s) for _, s in runs()])
def test_built_handler_answers_its_sample(logical_id: str, sample: samples.Sample,
                                          built_platform: built.BuiltPlatform) -> None:
    outcome = built_platform.run(logical_id, sample_event(sample))
    assert all(not p.endswith("site-packages") for p in outcome["path"]), outcome["path"]
    if sample.source == "authorizer":
        assert outcome["error"] is None and outcome["result"]["principalId"] == "c-0001", outcome
        return
    assert outcome["error"] is None, outcome["error"]
    result = outcome["result"]
    if sample.source == "api":
        from infra import centers

        centers.load_all()
        from bank_common.http import ROUTES

        event = sample.load()
        spec = next((s for s in ROUTES if (s.method.upper(), s.path) == (event["httpMethod"], event["resource"])),
                    None)
        status, code = samples.expected_api_outcome(sample, spec.status if spec else 200)
        assert result["statusCode"] == status, result
        if code:
            assert json.loads(result["body"])["error"]["code"] == code, result
    elif sample.source == "sqs":
        assert result == {"batchItemFailures": []}, result
    elif sample.source == "invoke":
        assert result["ok"] or result["error"]["status"] < 500, result
    else:
        assert isinstance(result, dict) and result, result


def distributions(site: Path) -> dict[str, set[str]]:
    """Each distribution in the layer → the top-level modules it installs."""
    out: dict[str, set[str]] = {}
    for info in site.glob("*.dist-info"):
        name = info.name.split("-")[0]
        tops = set()
        for line in (info / "RECORD").read_text().splitlines():
            first = line.split(",")[0].split("/")[0]
            if first.endswith(".dist-info") or first in ("..", "bin"):
                continue
            tops.add(first.removesuffix(".py").split(".")[0])
        out[name] = tops
    return out


def test_every_layer_package_is_imported_by_a_function(built_platform: built.BuiltPlatform) -> None:
    """Runs after the smoke runs (same module, same session): what they imported is what Lambda loads."""
    if len({r["function"] for r in built_platform.runs}) < len(template.functions()):
        pytest.skip("needs every function's smoke run first (run this module whole)")
    imported = {m for r in built_platform.runs for m in r["modules"]}
    unused = {dist: tops for dist, tops in distributions(built_platform.build.deps_site).items()
              if not tops & imported and not any(t in ALLOWED_UNIMPORTED for t in tops)}
    assert not unused, f"in the deps layer but imported by no function (remove, or allow with a reason): {unused}"
    slowest = sorted(built_platform.runs, key=lambda r: -r["total_ms"])[:3]
    report("  built smoke runs: " + ", ".join(f"{r['function']} {r['total_ms']:.0f} ms" for r in slowest))
