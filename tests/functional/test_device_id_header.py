"""X-Device-Id is a documented header of both logins (its schema in the OpenAPI document), and the route
applies exactly that schema: a value outside it is a 400 naming the header, before any password is checked.

Before it was documented, the login logic checked it with str.isalnum, which also takes non-ASCII letters
("é"), so the API's rule and any rule a document could state differed.
"""

from __future__ import annotations

import json

import pytest

from infra import openapi
from tests.functional.conftest import STAFF_PASSWORD, STAFF_USER
from tests.support.api import PASSWORD, Api

BAD = ["", "d 1", "é", "dev/1", "a" * 129, "d1\t"]
GOOD = ["d", "dev-01:a.b_c", "A" * 128]


def documented_schema(path: str) -> dict:
    params = json.loads(openapi.render())["paths"][path]["post"]["parameters"]
    return next(p["schema"] for p in params if p["name"] == "X-Device-Id" and p["in"] == "header")


@pytest.mark.parametrize("path", ["/v1/auth/login", "/v1/auth/staff/login"])
def test_the_document_states_the_rule(path: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(documented_schema(path))
    assert [v for v in GOOD if not validator.is_valid(v)] == []
    assert [v for v in BAD if validator.is_valid(v)] == []


def test_logins_apply_the_documented_rule(api: Api, new_mobile) -> None:
    mobile = new_mobile()
    api.register(mobile)
    for value in BAD:
        for path, body, channel in (("/v1/auth/login", {"mobile": mobile, "password": PASSWORD}, "app"),
                                    ("/v1/auth/staff/login", {"username": STAFF_USER, "password": STAFF_PASSWORD},
                                     "web")):
            r = api.call("POST", path, body, channel=channel, headers={"X-Device-Id": value})
            assert r.status == 400 and r.code == "VALIDATION_FAILED", (path, value, r.body)
            assert r.body["error"]["details"][0]["field"] == "X-Device-Id"
    for value in GOOD:  # accepted as a device id: a login from it (a new device) asks for its texted code
        r = api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": PASSWORD},
                     headers={"X-Device-Id": value})
        assert r.status != 400, (value, r.body)
        assert r.code in ("DEVICE_VERIFICATION_REQUIRED", "RATE_LIMITED"), (value, r.body)
