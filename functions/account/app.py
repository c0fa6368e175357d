"""Account center: e-accounts, balances, the double-entry ledger, transfers and counter deposits.

Lambda handler for every API function of this center: `app.app` (one function per operation in
template.yaml, all sharing this CodeUri).
"""

import gc

gc.disable()  # no collections while the function initialises (docs/decisions/0008)

from chalice import Chalice

from account_center import api
from bank_common import obs

obs.init_tracing()

app = Chalice(app_name="account")
app.register_blueprint(api.bp)

BLUEPRINTS = (api.bp,)
gc.freeze()  # what initialisation built lives as long as the process: collections skip it
gc.enable()


def reconcile(event: dict, context: object = None) -> dict:
    """EventBridge Scheduler target: the end-of-day ledger reconciliation."""
    from account_center import logic

    return logic.reconcile()
