"""User center: customers, channel identities, KYC level, profile, notifications.

`app.app` serves the API functions; `app.internal` is the function other centers invoke;
`app.notify` consumes the notification queue (partial batch failures reported to SQS).
"""

from typing import Any

from chalice import Chalice

from bank_common import obs
from user_center import api

obs.init_tracing()

app = Chalice(app_name="user")
app.register_blueprint(api.bp)

BLUEPRINTS = (api.bp,)
internal = api.internal


def notify(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    # Imported here: only the queue function pays for the batch utility, not the API functions.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from user_center import notifications

    def handle(record: Any) -> None:
        notifications.send(record.json_body)

    return process_partial_response(event=event, record_handler=handle,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)
