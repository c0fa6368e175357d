"""Account center: e-accounts, balances, the double-entry ledger, transfers and counter deposits.

Lambda handler for every API function of this center: `app.app` (one function per operation in
template.yaml, all sharing this CodeUri).
"""

import gc

gc.disable()  # no collections while the function initialises (docs/decisions/0008)

from typing import Any

from chalice import Chalice

from account_center import api
from bank_common import obs, queue

obs.init_tracing()

app = Chalice(app_name="account", configure_logs=False)  # logs go through bank_common.obs only
app.register_blueprint(api.bp)

gc.freeze()  # what initialisation built lives as long as the process: collections skip it
gc.enable()


def reconcile(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The ledger reconciliation: started by its schedule (or ops), continued from its own queue."""
    from account_center import reconcile as job

    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 60_000)
    if "Records" in event:
        return queue.process_sqs(event, lambda message: job.resume(message, remaining))
    return job.start(event, remaining)
