"""The account center's refusals, each with its stable code."""

from __future__ import annotations

from bank_common.errors import BusinessRuleViolation, Conflict, NotFound


class AccountNotFound(NotFound):
    code, message = "ACCOUNT_NOT_FOUND", "No such account for this customer."


class PayeeCannotReceive(BusinessRuleViolation):
    """Whatever the reason (no such account, frozen, closed, suspended, its balance or inflow cap): one answer,
    so that a payer learns nothing about someone else's account beyond "it cannot take this"."""

    code, message = "PAYEE_CANNOT_RECEIVE", "The receiving account cannot take this transfer."


class AccountNotActive(BusinessRuleViolation):
    code, message = "ACCOUNT_NOT_ACTIVE", "The account is frozen, suspended or closed."


class BalanceCapReached(BusinessRuleViolation):
    code, message = "BALANCE_CAP_REACHED", "A Type III account may hold at most 2000.00 CNY."


class InflowCapReached(BusinessRuleViolation):
    code, message = "INFLOW_CAP_REACHED", "The account's inflow limit (PBOC Type II caps) is reached."


class SameAccount(BusinessRuleViolation):
    code, message = "SAME_ACCOUNT", "The receiving account must differ from the paying one."


class HoldNotFound(NotFound):
    code, message = "HOLD_NOT_FOUND", "No such hold on this account."


class HoldNotActive(Conflict):
    code, message = "HOLD_NOT_ACTIVE", "The hold was already captured or released."


class HoldExpired(BusinessRuleViolation):
    code, message = "HOLD_EXPIRED", "The hold expired; its money was (or will be) released."


class CaptureExceedsHold(BusinessRuleViolation):
    code, message = "CAPTURE_EXCEEDS_HOLD", "A capture takes at most the amount held."


class TransferNotFound(NotFound):
    code, message = "TRANSFER_NOT_FOUND", "No such transfer."


class NotReversible(BusinessRuleViolation):
    code, message = "NOT_REVERSIBLE", "This movement cannot be reversed."
