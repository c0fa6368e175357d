"""Contract & limit center: agreements (versioned templates, signatures with evidence, revocation) and limits
(definitions, customers' own limits, usage: written inside the account center's money transactions).

`app.app` serves the API functions; `app.internal` is what ops and other centers invoke (seeding the bank's
initial limit definitions).
"""

import gc

gc.disable()  # no collections while the function initialises (docs/decisions/0008)

from typing import Any

from chalice import Chalice

from bank_common import client, obs
from contract_center import api

obs.init_tracing()

app = Chalice(app_name="contract", configure_logs=False)  # logs go through bank_common.obs only
app.register_blueprint(api.bp)

gc.freeze()  # what initialisation built lives as long as the process: collections skip it
gc.enable()


def internal(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """{"operation": "seed_bank_defaults", "payload": {}}."""
    from contract_center import limit_rules

    return client.internal_handler({"seed_bank_defaults": limit_rules.seed_bank_defaults})(event, context)
