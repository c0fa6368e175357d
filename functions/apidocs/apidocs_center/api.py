"""Serves the OpenAPI document of the whole platform and a page to read it.

Each center's function only knows its own routes, so the whole document is generated at build time
(`python -m infra.openapi`) into this package; a contract test keeps it current. The local run serves
this same file (it runs this same function).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from chalice import Response

from bank_common.http import Blueprint
from bank_common.openapi import DOCS_PAGE

bp = Blueprint(__name__)
SPEC_FILE = Path(__file__).with_name("openapi.json")


@cache
def spec() -> dict[str, Any]:
    return dict(json.loads(SPEC_FILE.read_text()))


@bp.route("/v1/openapi.json", methods=["GET"])
def openapi_json() -> Response:
    return Response(body=json.dumps(spec()), status_code=200, headers={"Content-Type": "application/json"})


@bp.route("/v1/docs", methods=["GET"])
def docs_page() -> Response:
    return Response(body=DOCS_PAGE, status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})
