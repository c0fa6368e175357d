from __future__ import annotations

import io
import json
import logging

from bank_common import obs
from bank_common.pii import mask_text, scrub


def test_mask_text() -> None:
    text = "mobile 13812345678 id 11010519491231002X card 6230910000000000017 Bearer abc.def.ghi"
    masked = mask_text(text)
    for secret in ("13812345678", "11010519491231002X", "6230910000000000017", "abc.def.ghi"):
        assert secret not in masked
    assert "138****5678" in masked and "0017" in masked


def test_scrub_keys() -> None:
    data = {"password": "Passw0rd", "mobile": "13812345678", "nested": [{"token": "x", "note": "call 13912345678"}]}
    out = scrub(data)
    assert out["password"] == "[redacted]" and out["nested"][0]["token"] == "[redacted]"
    assert "13812345678" not in json.dumps(out) and "13912345678" not in json.dumps(out)


def test_logger_masks_pii() -> None:
    log = obs.log()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(obs.MaskingFormatter())  # the formatter every function's logger uses
    log.addHandler(handler)
    level = log.level
    try:
        log.setLevel(logging.INFO)
        log.info("login for 13812345678", extra={"password": "Passw0rd-1", "id_number": "11010519491231002X"})
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    out = stream.getvalue()
    assert out, "the logger wrote nothing"
    for secret in ("13812345678", "Passw0rd-1", "11010519491231002X"):
        assert secret not in out
    assert json.loads(out.strip().splitlines()[-1])["message"].startswith("login for 138****5678")
