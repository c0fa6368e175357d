"""User center: customers, channel identities, KYC level, profile, notifications.

`app.app` serves the API functions; `app.internal` is the function other centers invoke;
`app.notify` consumes the notification queue (partial batch failures reported to SQS).
"""

import gc

gc.disable()  # no collections while the function initialises (docs/decisions/0008)

from typing import Any

from chalice import Chalice

from bank_common import obs, queue
from user_center import api, notifications

obs.init_tracing()

app = Chalice(app_name="user", configure_logs=False)  # logs go through bank_common.obs only
app.register_blueprint(api.bp)

gc.freeze()  # what initialisation built lives as long as the process: collections skip it
gc.enable()
internal = api.internal


def notify(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return queue.process_sqs(event, notifications.send)
