"""Build the platform's OpenAPI document from every center's routes.

`python -m infra.openapi` writes it into the apidocs function (served in AWS) and docs/openapi.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra import centers

ROOT = Path(__file__).resolve().parent.parent
TARGETS = (ROOT / "functions/apidocs/apidocs_center/openapi.json", ROOT / "docs/openapi.json")


def build() -> dict[str, Any]:
    centers.load_all()
    from bank_common.openapi import document

    return document()


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> None:
    text = render()
    for target in TARGETS:
        target.write_text(text)
        print(f"wrote {target.relative_to(ROOT)}")  # noqa: T201


if __name__ == "__main__":
    main()
