"""Life center: bill payments and top-ups (billers as configuration, orders under account-center holds, a
queue to the billers, their signed callbacks and a poller) and the daily reconciliation with their files.

Lambda handlers (one function per operation in infra/stacks/life.yaml, all sharing this CodeUri):
`app.app` serves the API functions; `app.dispatch` sends paid orders to their billers (the queue);
`app.poll` asks billers about unanswered orders and retries refunds (schedule); `app.reconcile` runs the
daily reconciliation (schedule, or invoked for one biller and day).
"""

import gc

gc.disable()  # no collections while the function initialises (docs/decisions/0008)

from typing import Any

from chalice import Chalice

from bank_common import obs, queue
from life_center import api

obs.init_tracing()

app = Chalice(app_name="life", configure_logs=False)  # logs go through bank_common.obs only
app.register_blueprint(api.bp)

gc.freeze()  # what initialisation built lives as long as the process: collections skip it
gc.enable()


def dispatch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from life_center import orders

    return queue.process_sqs(event, orders.dispatch)


def poll(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from life_center import orders

    return orders.poll()


def reconcile(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from life_center import reconciliation

    return reconciliation.scheduled(event if isinstance(event, dict) else {})
