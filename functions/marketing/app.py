"""Marketing center: campaigns (state machine, versions, holdout, audit), budgets.

`app.app` serves the API functions; `app.internal` is the function other centers invoke (budget
reservations); `app.sweep_budgets` releases budget reservations nobody confirmed (scheduled).
"""

import gc

gc.disable()  # no collections while the function initialises (docs/decisions/0008)

from typing import Any

from chalice import Chalice

from bank_common import obs, queue
from marketing_center import api

obs.init_tracing()

app = Chalice(app_name="marketing", configure_logs=False)  # logs go through bank_common.obs only
app.register_blueprint(api.bp)

gc.freeze()  # what initialisation built lives as long as the process: collections skip it
gc.enable()
internal = api.internal


def sweep_budgets(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from marketing_center.logic import budgets

    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 60_000)
    return budgets.sweep(remaining_ms=remaining)


def ingest_behaviour(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Behaviour and profile events from other centers (the behaviour queue): counted once, segments re-evaluated."""
    from marketing_center.logic import audience

    return queue.process_sqs(event, audience.ingest)


def sweep_segments(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Nightly: segments whose conditions depend on the date, re-evaluated."""
    from marketing_center.logic import audience

    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 60_000)
    return audience.sweep(remaining)


def trigger(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Scheduler's firings (a campaign's cron, a customer's step) and the bus's domain events."""
    from marketing_center.logic import triggers

    return {"ok": True, **triggers.handle(event, getattr(context, "invoked_function_arn", ""))}
