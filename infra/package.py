"""Build every deployable artifact: `python -m infra.package [--arch arm64|x86_64|native] [--out build]`.

What a deploy ships, built the way a deploy would (docs/decisions/0012):
- the third-party layer from layers/deps/requirements.txt: every distribution pinned there and nothing
  else (`pip install --no-deps`), wheels for the runtime (CPython 3.13, manylinux for the architecture,
  never an sdist), then pruned to what Lambda imports (Chalice's runtime module, not its CLI; no console
  scripts);
- the bank_common layer and each center's function code, copied as they are;
- bytecode for all of it, compiled by Python 3.13 with unchecked-hash pycs: /opt and /var/task are read-only
  in Lambda, so without shipped bytecode every cold start would compile every module it imports, and
  hash-based pycs stay valid in a zip whose timestamps are fixed;
- the templates, copied beside them with the same relative paths, so `sam deploy --template-file
  <out>/<arch>/template.yaml` uploads exactly these folders (the deps layer is prebuilt: its BuildMethod
  is removed);
- a reproducible zip of every layer and function (same sources, same bytes) under <out>/<arch>/dist.

It prints each artifact's unzipped and zipped size and writes them to <out>/<arch>/sizes.json.
"""

from __future__ import annotations

import argparse
import compileall
import json
import platform
import py_compile
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from infra import template
from infra.deploy import CfnLoader
from infra.deploy import package as zip_folder

ROOT = Path(__file__).resolve().parent.parent
DEPS_REQUIREMENTS = ROOT / "layers" / "deps" / "requirements.txt"
PYTHON_VERSION = "3.13"
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): any manylinux wheel up to that glibc fits.
MANYLINUX = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}
# What Lambda never imports from a distribution that ships more: path prefixes to keep, inside the layer.
KEEP_ONLY = {"chalice": ("chalice/__init__.py", "chalice/app.py")}
NEVER_SHIP = ("bin",)  # console scripts
AWS_SDK = ("botocore", "boto3", "s3transfer")  # left out of the layer size budget
# The deps layer, without the AWS SDK and without bytecode, must stay within this (README, Benchmarks).
DEPS_BUDGET_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class Artifact:
    name: str  # "layer:deps", "layer:common", "function:account", ...
    path: str  # the folder a deploy uploads
    unzipped_bytes: int
    unzipped_bytes_without_bytecode: int
    zipped_bytes: int


def template_architecture() -> str:
    archs = {tuple(((s.body.get("Globals") or {}).get("Function") or {}).get("Architectures") or ["x86_64"])
             for s in template.stacks() if any(r.get("Type") == template.FUNCTION for r in s.resources.values())}
    assert len(archs) == 1, f"the centers disagree on the architecture: {archs}"
    return next(iter(archs))[0]


def native_architecture() -> str:
    machine = platform.machine().lower()
    return "arm64" if machine in ("aarch64", "arm64") else "x86_64"


def pip_install_layer(target: Path, arch: str) -> None:
    platforms = [arg for tag in MANYLINUX for arg in ("--platform", f"{tag}_{MACHINE[arch]}")]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", "--only-binary=:all:", "--no-compile", "--python-version", PYTHON_VERSION,
                    "--implementation", "cp", "--abi", "cp313", *platforms, "--target", str(target),
                    "-r", str(DEPS_REQUIREMENTS)], check=True)


def prune(site: Path) -> None:
    for name in NEVER_SHIP:
        shutil.rmtree(site / name, ignore_errors=True)
    for package, keep in KEEP_ONLY.items():
        root = site / package
        for path in sorted(root.rglob("*"), reverse=True):
            relative = path.relative_to(site).as_posix()
            if path.is_file() and relative not in keep:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def copy_code(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests", ".*"))


def compile_bytecode(folder: Path) -> None:
    """pycs for Python 3.13 (this interpreter) that stay valid whatever the files' timestamps."""
    assert sys.version_info[:2] == (3, 13), "bytecode must be compiled by the runtime's Python (3.13)"
    ok = compileall.compile_dir(str(folder), quiet=1, workers=0,
                                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    assert ok, f"compiling {folder} failed"


def copy_templates(out: Path) -> None:
    """The templates beside the built folders, with the same relative paths; the deps layer is prebuilt."""
    for stack in template.stacks():
        target = out / stack.path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = stack.path.read_text()
        if stack.logical_id == template.ROOT_STACK:
            body = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
            assert "BuildMethod" in str(body["Resources"]["DepsLayer"].get("Metadata")), "DepsLayer changed shape"
            text = text.replace("    Metadata:\n      BuildMethod: python3.13\n      BuildArchitecture: arm64\n", "")
            assert "BuildMethod" not in text, "could not drop the deps layer's BuildMethod"
        target.write_text(text)


def folder_bytes(folder: Path, *, bytecode: bool = True, skip: tuple[str, ...] = ()) -> int:
    total = 0
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        parts = path.relative_to(folder).parts
        if not bytecode and ("__pycache__" in parts or path.suffix == ".pyc"):
            continue
        if skip and any(part.startswith(skip) for part in parts[:2]):
            continue
        total += path.stat().st_size
    return total


def deps_budget_bytes(site: Path) -> int:
    """What the size budget counts: the deps layer without the AWS SDK and without bytecode."""
    return folder_bytes(site, bytecode=False, skip=AWS_SDK)


@dataclass(frozen=True)
class Build:
    arch: str
    root: Path  # <out>/<arch>: the templates and every artifact folder, as a deploy uploads them
    artifacts: list[Artifact]

    @property
    def deps_site(self) -> Path:
        return self.root / "layers" / "deps" / "python"

    @property
    def common_site(self) -> Path:
        return self.root / "layers" / "common" / "python"

    def function_dir(self, center: str) -> Path:
        return self.root / "functions" / center


def build(arch: str, out: Path) -> Build:
    root = out / arch
    shutil.rmtree(root, ignore_errors=True)
    folders: dict[str, Path] = {}
    deps = root / "layers" / "deps" / "python"
    pip_install_layer(deps, arch)
    prune(deps)
    folders["layer:deps"] = deps.parent
    copy_code(ROOT / "layers" / "common" / "python", root / "layers" / "common" / "python")
    folders["layer:common"] = root / "layers" / "common"
    for center in sorted({fn.center for fn in template.functions()}):
        copy_code(ROOT / "functions" / center, root / "functions" / center)
        folders[f"function:{center}"] = root / "functions" / center
    for folder in folders.values():
        compile_bytecode(folder)
    copy_templates(root)
    dist = root / "dist"
    dist.mkdir()
    artifacts = []
    for name, folder in folders.items():
        data = zip_folder(folder, include_bytecode=True)
        (dist / f"{name.replace(':', '-')}.zip").write_bytes(data)
        artifacts.append(Artifact(name, str(folder.relative_to(root)), folder_bytes(folder),
                                  folder_bytes(folder, bytecode=False), len(data)))
    result = Build(arch, root, artifacts)
    (root / "sizes.json").write_text(json.dumps({
        "arch": arch, "deps_budget_bytes": DEPS_BUDGET_BYTES, "deps_without_sdk_or_bytecode": deps_budget_bytes(deps),
        "artifacts": [asdict(a) for a in artifacts]}, indent=2) + "\n")
    return result


def table(result: Build) -> str:
    mb = 1024 * 1024
    lines = [f"Built for {result.arch} (python{PYTHON_VERSION}) in {result.root}",
             f"  {'artifact':18} {'unzipped':>10} {'no bytecode':>12} {'zipped':>9}"]
    for a in result.artifacts:
        lines.append(f"  {a.name:18} {a.unzipped_bytes / mb:8.2f}MB {a.unzipped_bytes_without_bytecode / mb:10.2f}MB"
                     f" {a.zipped_bytes / mb:7.2f}MB")
    budget = deps_budget_bytes(result.deps_site)
    lines.append(f"  deps layer without the AWS SDK and bytecode: {budget / mb:.2f}MB "
                 f"(budget {DEPS_BUDGET_BYTES / mb:.0f}MB: {'within' if budget <= DEPS_BUDGET_BYTES else 'OVER'})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--arch", choices=["template", "native", "arm64", "x86_64"], default="template",
                        help="the template's architecture (default), this machine's, or a named one")
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    args = parser.parse_args(argv)
    arch = {"template": template_architecture(), "native": native_architecture()}.get(args.arch, args.arch)
    result = build(arch, args.out)
    print(table(result))  # noqa: T201
    return 0 if deps_budget_bytes(result.deps_site) <= DEPS_BUDGET_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
