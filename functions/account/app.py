"""Account center: e-accounts, balances, the double-entry ledger and its journal, transfers (within the bank
and through the clearing system), counter deposits, holds for other centers, reconciliation.

Lambda handlers (one function per operation in infra/stacks/account.yaml, all sharing this CodeUri):
`app.app` serves the API functions; `app.internal` is what other centers invoke (holds); `app.fold` folds
the journal (its stream, and a schedule); `app.sweep` releases expired holds and requeues unsubmitted
outbound transfers; `app.clearing_submit` and `app.clearing_inbound` consume the clearing queues;
`app.reconcile` checks the ledger; `app.first_deposit` announces a customer's first credit (the accounts
table's stream).
"""

import gc

gc.disable()  # no collections while the function initialises (docs/decisions/0008)

from typing import Any

from chalice import Chalice

from account_center import api
from bank_common import client, obs, queue

obs.init_tracing()

app = Chalice(app_name="account", configure_logs=False)  # logs go through bank_common.obs only
app.register_blueprint(api.bp)

gc.freeze()  # what initialisation built lives as long as the process: collections skip it
gc.enable()


def _internal_operations() -> dict[str, client.Operation]:
    from account_center import accounts, holds

    return {"hold": holds.hold, "capture": holds.capture, "release": holds.release, "get_hold": holds.get_hold,
            "refund_capture": holds.refund,
            "account_summary": accounts.summary, "open_settlement_account": accounts.open_settlement_account}


def first_deposit(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The accounts table's stream: FirstDeposit on the bank's bus for a customer's first credit."""
    from account_center import first_deposit as announce

    return announce.from_stream(event)


def internal(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Other centers: {"operation": hold | capture | release | get_hold | refund_capture | account_summary |
    open_settlement_account, "payload": {...}}."""
    return client.internal_handler(_internal_operations())(event, context)


def fold(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The journal's stream (fold the accounts that got postings) or its schedule (fold what is left)."""
    from account_center import fold as journal

    if "Records" in event:
        return journal.from_stream(event)
    return journal.sweep()


def sweep(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Scheduled: release expired holds; queue again outbound transfers that were never submitted."""
    from account_center import clearing, holds

    return {**holds.sweep(), "requeued": clearing.requeue()}


def clearing_submit(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from account_center import clearing

    return queue.process_sqs(event, clearing.submit)


def clearing_inbound(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Receipts and credits from the clearing system: XML bodies, not JSON."""
    from account_center import clearing

    return queue.process_sqs(event, clearing.receive, parse=False)


def reconcile(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The ledger reconciliation: started by its schedule (or ops), continued from its own queue."""
    from account_center import reconcile as job

    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 60_000)
    if "Records" in event:
        return queue.process_sqs(event, lambda message: job.resume(message, remaining))
    return job.start(event, remaining)
