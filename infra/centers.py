"""Loading every center's app module in one process (local run, tests, OpenAPI build).

Each center's `app.py` is a module named `app` in Lambda; here each is loaded from its file under a
unique name (`<center>_app`), with the layer and every function root on sys.path as in Lambda.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "layers" / "common" / "python"


def center_names() -> list[str]:
    return sorted(p.name for p in FUNCTIONS.iterdir() if (p / "app.py").is_file())


def ensure_paths() -> None:
    for path in [LAYER, *(FUNCTIONS / c for c in center_names())]:
        if str(path) not in sys.path:
            sys.path.append(str(path))


@cache
def load(center: str) -> ModuleType:
    ensure_paths()
    name = f"{center}_app"
    spec = importlib.util.spec_from_file_location(name, FUNCTIONS / center / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_all() -> dict[str, ModuleType]:
    return {center: load(center) for center in center_names()}


def handler(center: str, dotted: str) -> Callable[[Any, Any], Any]:
    """The object a template `Handler: app.<name>` points at, for this center."""
    module_name, _, attr = dotted.partition(".")
    assert module_name == "app", f"handlers live in app.py, got {dotted}"
    target: Callable[[Any, Any], Any] = getattr(load(center), attr)
    return target
