"""Transfers within the bank, counter deposits and same-day reversals: money movements decided on one read
and written in one transaction (account_center.movements), limits and PBOC caps included.

PBOC caps (银发〔2016〕302号, 〔2018〕16号), as the contract & limit center defines them per account type:
- Type II: outflow (payments, bill pay, transfers to accounts other than its bound one) 10,000/day and
  200,000/year; inflow from anything but its bound account (transfers in, cash at the counter, inbound
  credits) 10,000/day and 200,000/year.
- Type III: balance at most 2,000 at every moment; outflow 2,000/day and 50,000/year.
- Transfers with the bound account and wealth/deposit purchases do not count; a same-day reversal gives the
  quota back. Every cap may be reached exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from account_center import movements, store
from account_center.errors import (
    AccountNotActive,
    AccountNotFound,
    BalanceCapReached,
    InflowCapReached,
    NotReversible,
    PayeeCannotReceive,
    SameAccount,
    TransferNotFound,
)
from account_center.models import Account, LedgerTransaction
from account_center.postings import GL_CASH, Movement, is_bank, legs_of
from account_center.schemas import DepositIn, DepositOut, ReversalIn, ReversalOut, TransferIn, TransferOut
from bank_common import agreements, idempotency, limits, schema, stepup
from bank_common.errors import ApiError, BusinessRuleViolation, InsufficientFunds
from bank_common.money import format_fen
from bank_common.principal import Principal


def bound_pair(account: Account, other_id: str) -> bool:
    """Is `other_id` the account's own bound account (transfers between them do not count for PBOC caps)?"""
    return bool(account.bound_account) and account.bound_account == other_id


def counts_outflow(payer: Account, payee_id: str, txn_type: str) -> bool:
    return payer.account_type in limits.CAPPED_ACCOUNT_TYPES and txn_type != "wealth_purchase" \
        and not bound_pair(payer, payee_id)


def counts_inflow(payee: Account, payer_id: str) -> bool:
    return payee.account_type in limits.CAPPED_ACCOUNT_TYPES and not bound_pair(payee, payer_id)


def payer_checks(snapshot: store.Snapshot, customer_id: str, account_id: str, amount: int) -> Account:
    """Everything about the paying account, in the order a payer is told: is it theirs, the agreement, is it
    active, does it have the money."""
    payer = snapshot.accounts.get(account_id)
    if payer is None or payer.customer_id != customer_id or payer.account_type in ("GL", "SETTLEMENT"):
        raise AccountNotFound()
    agreements.require(snapshot.signatures.get(customer_id))
    if payer.status != "active":
        raise AccountNotActive()
    if int(payer.available) < amount:
        raise InsufficientFunds()
    return payer


def plan_payer_limits(mv: Movement, snapshot: store.Snapshot, payer: Account, payee_id: str,
                      ctx: limits.LimitContext, *, own: bool) -> None:
    """The customer's caps (not between the customer's own accounts) and the payer's PBOC outflow caps."""
    if not own:
        mv.limit(limits.plan_customer(snapshot.definitions, ctx, snapshot.usage), "payer", limits.exceeded)
    if counts_outflow(payer, payee_id, ctx.txn_type):
        plan = limits.plan_account(snapshot.definitions.outflow_caps(payer.account_type), payer.account_id, "OUT",
                                   ctx.amount, ctx.at, snapshot.usage)
        mv.limit(plan, "payer", limits.exceeded)


def credit_checked(mv: Movement, snapshot: store.Snapshot, payee: Account | None, amount: int, payer_id: str,
                   counterparty: str, refusal: type[ApiError] = PayeeCannotReceive,
                   cap_refusal: type[ApiError] | None = None, inflow_refusal: type[ApiError] | None = None) -> Account:
    """Credit a customer account with its PBOC inflow and balance caps: refused (by `refusal`, or the more
    specific kinds where the caller may name them) if it cannot take this."""
    if payee is None or payee.account_type == "GL" or payee.status != "active":
        raise refusal()
    max_balance = snapshot.definitions.max_balance(payee.account_type)
    if max_balance is not None and int(payee.balance) + amount > max_balance:
        raise (cap_refusal or refusal)()
    if counts_inflow(payee, payer_id):
        caps = snapshot.definitions.inflow_caps(payee.account_type)
        try:
            plan = limits.plan_account(caps, payee.account_id, "IN", amount, mv.at, snapshot.usage)
        except ApiError:
            raise (inflow_refusal or refusal)() from None
        mv.limit(plan, "payee", lambda cap: (inflow_refusal or refusal)())
    mv.credit(payee, amount, counterparty, max_balance=max_balance, refusal=cap_refusal or refusal)
    return payee


def transfer(caller: Principal, channel: str, key: str, body: TransferIn, step_up_token: str | None = None,
             risk: str = "normal") -> dict[str, Any]:
    """Customer to customer (or between the customer's own accounts) within the bank. Everything about the
    payer is checked before anything about the payee, and every payee-side refusal is the same
    PAYEE_CANNOT_RECEIVE: a payer cannot probe a payee's balance (a Type III cap) with transfers that fail for
    their own reasons.

    Step-up (docs/decisions/0017): a token, when sent, is verified here against this exact request (no read:
    the JWKS is cached) and the transfer is then held to the step-up level's limits (L3) and spends the token;
    a transfer that needs one (by amount or risk) and has none is held to the L3 limits too (so a refusal it
    gets is the one it would get with the token) and then answered 403 STEP_UP_REQUIRED."""
    if caller.kind != "customer":
        raise BusinessRuleViolation("Transfers are made by customers.", code="CUSTOMER_ONLY")
    if body.from_account == body.to_account:
        raise SameAccount()
    grant = stepup.verify(step_up_token, caller, "transfer", body.from_account, body.to_account,
                          body.amount) if step_up_token else None
    needs_step_up = grant is None and stepup.required(body.amount, risk)
    record_pk = store.txn_pk(idempotency.scoped(caller.subject, key))
    request_hash = idempotency.request_hash("transfer", schema.to_builtins(body))
    at = datetime.now(UTC)
    ctx = limits.LimitContext(customer_id=caller.subject, channel=channel, txn_type="transfer",
                              auth_level=stepup.LEVEL if grant or needs_step_up else caller.auth_level,
                              amount=body.amount, at=at)
    decide = transfer_decision(caller, ctx, body, record_pk, request_hash, grant=grant, risk=risk)
    return movements.run(transfer_reads(ctx, body), decide, movements.ledger_outcomes(record_pk, request_hash, at))


def transfer_reads(ctx: limits.LimitContext, body: TransferIn) -> store.Reads:
    """What a transfer reads in its one BatchGetItem."""
    return store.Reads(accounts=(body.from_account, body.to_account),
                       usage=(*limits.payer_usage_keys(ctx, body.from_account),
                              *limits.account_usage_keys(body.to_account, "IN", ctx.at)),
                       definitions=tuple(limits.definition_keys(ctx)), signatures=(ctx.customer_id,))


def transfer_decision(caller: Principal, ctx: limits.LimitContext, body: TransferIn, record_pk: str,
                      request_hash: str, *, grant: stepup.Grant | None = None,
                      risk: str = "normal") -> movements.Decide:
    """The transfer's decision on what it read: its transaction, or a refusal."""
    at = ctx.at

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        mv = Movement("transfer", body.memo, at, attempt)
        src = payer_checks(snapshot, caller.subject, body.from_account, body.amount)
        dst = snapshot.accounts.get(body.to_account)
        own = dst is not None and dst.customer_id == caller.subject
        plan_payer_limits(mv, snapshot, src, body.to_account, ctx, own=own)
        # Step-up: once the payer's side is decided and before anything about the payee. STEP_UP_REQUIRED
        # decides nothing (not recorded under the key): the retry with the token may pass. The token's single
        # use is a payer-side part of this transaction, so it is spent exactly when the money moves.
        if grant is None:
            stepup.require(None, caller, "transfer", body.from_account, body.to_account, body.amount, risk)
        else:
            mv.add_payer(store.Part(stepup.consume_item(grant), side="payer", explain=step_up_used))
        mv.debit(src, body.amount, body.to_account)
        credit_checked(mv, snapshot, dst, body.amount, src.account_id, src.account_id)
        response = schema.to_builtins(TransferOut(
            transfer_id=mv.transfer_id, status="completed", from_account=src.account_id,
            to_account=body.to_account, amount=format_fen(body.amount), memo=body.memo,
            balance_after=format_fen(int(src.balance) - body.amount), created_at=mv.created))
        return mv.plan(store.put(mv.record(record_pk, request_hash, response)), response)

    return decide


def step_up_used(old_item: dict[str, Any] | None) -> ApiError:
    """The step-up part's failed condition: its token was spent (by another request: this key's own retry
    finds its record first and replays it)."""
    return stepup.StepUpAlreadyUsed()


def deposit(teller: Principal, key: str, body: DepositIn) -> dict[str, Any]:
    """Cash in at the counter: the bank's cash GL account (its journal) to the customer's account. Counts as
    inflow from outside a Type II account's binding; a Type III account's balance cap applies."""
    record_pk = store.txn_pk(idempotency.scoped(teller.subject, key))
    request_hash = idempotency.request_hash("deposit", schema.to_builtins(body))
    at = datetime.now(UTC)

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        account = snapshot.accounts.get(body.account_id)
        if account is None or account.account_type in ("GL", "SETTLEMENT"):
            raise AccountNotFound("No such account.")
        mv = Movement("deposit", body.memo, at, attempt)
        mv.journal(GL_CASH, -body.amount, account.account_id)
        credit_checked(mv, snapshot, account, body.amount, GL_CASH, GL_CASH, refusal=AccountNotActive,
                       cap_refusal=BalanceCapReached, inflow_refusal=InflowCapReached)
        response = schema.to_builtins(DepositOut(transfer_id=mv.transfer_id, status="completed",
                                                 account_id=account.account_id, amount=format_fen(body.amount),
                                                 created_at=mv.created))
        return mv.plan(store.put(mv.record(record_pk, request_hash, response)), response)

    reads = store.Reads(accounts=(body.account_id,),
                        usage=tuple(limits.account_usage_keys(body.account_id, "IN", at)),
                        definitions=tuple(limits.account_type_key(t) for t in limits.CAPPED_ACCOUNT_TYPES))
    return movements.run(reads, decide, movements.ledger_outcomes(record_pk, request_hash, at))


def reverse(staff: Principal, key: str, body: ReversalIn) -> dict[str, Any]:
    """Undo a completed transfer or deposit (an operations correction): every leg in the opposite direction,
    the payee's side debited in place (it must still hold the money). On the same Asia/Shanghai day as the
    original, the limit usage it added is given back (the day's, month's and year's); on a later day it is
    not. One reversal per movement: the reversal's record is keyed by the original's transfer id."""
    original = store.record_by_transfer_id(body.transfer_id)
    if original is None or original.outcome != "completed":
        raise TransferNotFound()
    if original.kind not in ("transfer", "deposit"):
        raise NotReversible()
    record_pk = store.txn_pk(f"REVERSAL#{body.transfer_id}")
    request_hash = idempotency.request_hash("reversal", {"transfer_id": body.transfer_id})
    at = datetime.now(UTC)
    legs = legs_of(original)
    customer_legs = [a for a, _ in legs if not is_bank(a)]

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        mv = Movement("reversal", f"reversal of {body.transfer_id}: {body.reason}", at, attempt)
        others = {a: next(b for b, _ in legs if b != a) for a, _ in legs}
        for account_id, delta in sorted(legs, key=lambda leg: leg[1], reverse=True):  # credited side first
            account = snapshot.accounts.get(account_id)
            if is_bank(account_id):
                mv.journal(account_id, -delta, others[account_id])
            elif account is None:
                raise NotReversible("An account of this movement no longer exists.")
            elif delta > 0:
                if account.status == "closed":
                    raise NotReversible("An account of this movement is closed.")
                if int(account.available) < delta:
                    raise InsufficientFunds("The credited account no longer holds the money.")
                mv.debit(account, delta, others[account_id], statuses=("active", "frozen", "suspended"))
            else:
                if account.status == "closed":
                    raise NotReversible("An account of this movement is closed.")
                mv.credit(account, -delta, others[account_id], refusal=NotReversible,
                          max_balance=snapshot.definitions.max_balance(account.account_type))
        same_day = limits.same_day(datetime.fromisoformat(original.created_at.replace("Z", "+00:00")), at)
        returned = limits.deltas_from_json(original.usage) if same_day else []
        for item in limits.give_back(returned, at):
            mv.add(store.Part(item))
        response = schema.to_builtins(ReversalOut(
            transfer_id=mv.transfer_id, reverses=body.transfer_id, status="completed",
            amount=format_fen(sum(d for _, d in legs if d > 0)), quota_returned=bool(returned), created_at=mv.created))
        record = mv.record(record_pk, request_hash, response)
        mv.add(store.Part(_mark_reversed(original, mv.transfer_id)))
        return mv.plan(store.put(record), response)

    reads = store.Reads(accounts=tuple(customer_legs),
                        definitions=tuple(limits.account_type_key(t) for t in limits.CAPPED_ACCOUNT_TYPES))
    return movements.run(reads, decide, movements.ledger_outcomes(record_pk, request_hash, at))


def _mark_reversed(original: LedgerTransaction, reversal_id: str) -> dict[str, Any]:
    from bank_common import ddb

    return {"Update": {
        "TableName": ddb.table_name(LedgerTransaction),
        "Key": {"pk": {"S": original.pk}, "sk": {"S": "TXN"}},
        "UpdateExpression": "SET reversed_by = :r",
        "ExpressionAttributeValues": {":r": {"S": reversal_id}},
    }}

