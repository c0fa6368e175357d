"""Local-only conveniences never deploy: no template sets the fakes' switches, fault injection or the fake
clearing house's queue, and nothing deployed defaults to a fake."""

from __future__ import annotations

import re
from pathlib import Path

from infra import template

ROOT = Path(__file__).resolve().parents[2]
LOCAL_ONLY = {"BANK_FAULTS", "FAKE_CLEARING_RECEIPTS_URL", "FAKE_CLEARING_LATE_SECONDS", "FAKE_CLEARING_DUPLICATES",
              "FAKE_VERIFIER_BACK_ONLINE", "LOCAL_STAFF_PASSWORD", "PUSH_SINK_FILE"}
SWITCHES = {"SMS_GATEWAY", "BINDING_VERIFIER", "CLEARING_GATEWAY", "PUSH_PROVIDER"}


def test_no_template_sets_a_local_only_variable() -> None:
    for fn in template.functions():
        names = set(fn.env)
        assert not names & LOCAL_ONLY, f"{fn.logical_id} sets {sorted(names & LOCAL_ONLY)}"
        for switch in names & SWITCHES:
            assert "fake" not in str(fn.env[switch]).lower(), f"{fn.logical_id}: {switch} = {fn.env[switch]}"
    for stack in template.stacks():
        text = stack.path.read_text(encoding="utf-8")
        assert not re.search(r"\bfake\b", text, re.IGNORECASE), f"{stack.path.name} mentions a fake"


def test_adapters_default_to_the_real_vendor() -> None:
    """Without their switch set, the adapters pick the real implementation (the fakes need an explicit 'fake')."""
    sources = {"functions/account/account_center/verification.py": 'os.environ.get("BINDING_VERIFIER", "tencent")',
               "functions/account/account_center/clearing_gateway.py": 'os.environ.get("CLEARING_GATEWAY", "fep")',
               "layers/common/python/bank_common/sms.py": 'os.environ.get("SMS_GATEWAY", "sns")'}
    for path, default in sources.items():
        assert default in (ROOT / path).read_text(encoding="utf-8"), path


def test_crash_points_are_inert_without_their_switch(monkeypatch) -> None:
    from bank_common import faults

    monkeypatch.delenv("BANK_FAULTS", raising=False)
    for _ in range(100):
        faults.crash_point("after_commit")  # would end this process if it were armed
