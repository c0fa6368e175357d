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


def test_mask_text_finds_numbers_written_other_ways_and_bare_tokens() -> None:
    jwt = ("eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjMTIzIiwidHlwIjoiY3VzdG9tZXIifQ."
           "3q2-7wVbVz4Xyz_Qk8dJrA")
    samples = {
        "+8613812345678": "+86138****5678", "008613812345678": "0086138****5678", "8613812345678": "86138****5678",
        "+86 138 1234 5678": "+86 138****5678", "138-1234-5678": "138****5678", "tel:13812345678;": "tel:138****5678;",
        f"token={jwt}": "token=eyJ***", f"Authorization: {jwt}": "Authorization: eyJ***",
    }
    for raw, want in samples.items():
        assert mask_text(raw) == want, raw
    # Amounts, ids and timestamps that are not phone numbers stay readable.
    for keep in ("12345678901234567890123", "2026-11-28T04:38:33", "amount 13800.00", "v1.2.3"):
        assert mask_text(keep) == keep


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
