"""Routes of the account center: parse → call the rules → shape the response. Nothing else lives here."""

from __future__ import annotations

from typing import Any

from account_center import accounts, clearing, transfers
from account_center.schemas import (
    AccountList,
    AccountNumber,
    AccountOut,
    Cursor,
    DepositIn,
    DepositOut,
    HoldId,
    OpenAccountIn,
    OpenTypeIIn,
    OutboundIn,
    OutboundOut,
    PageSize,
    ReversalIn,
    ReversalOut,
    StatementPage,
    StatusChangeIn,
    TransferIn,
    TransferOut,
    VerifyBindingIn,
)
from bank_common import stepup
from bank_common.http import Blueprint, Link, Request, route

bp = Blueprint(__name__)
CENTER = "account"
OPS = ("ops",)


def account_links(account_id: str) -> dict[str, Link]:
    """What can be done next with an account a response names (`account_id`: a runtime expression)."""
    return {
        "GetAccount": Link.to("get_account", "The account, with its balances.",
                              parameters={"account_id": account_id}),
        "GetStatement": Link.to("get_statement", "The account's statement entries.",
                                parameters={"account_id": account_id}),
        "TransferFrom": Link.to("create_transfer", "A transfer paid from the account.",
                                body={"from_account": account_id}),
        "DepositTo": Link.to("create_deposit", "Cash paid into the account at the counter.",
                             body={"account_id": account_id}),
    }


@route(bp, "POST", "/v1/account/accounts", operation="open_account", summary="Open a Type II or III e-account",
       center=CENTER, request_model=OpenAccountIn, response_model=AccountOut, status=201, customer_only=True,
       errors=(409, 422, 503), links=account_links("$response.body#/account_id"),
       description="PBOC rules: opened online only as Type II (KYC L2) or III (KYC L1), bound to the customer's "
                   "own Type I account (bank_code SELF) or another bank's card, which its bank confirms with the "
                   "name, ID number and mobile registered there. A binding the bank cannot confirm now opens the "
                   "account `suspended` (binding `unverified`) until verified again; one it denies is refused "
                   "(422 BINDING_REJECTED). Needs the e-account agreement (422 AGREEMENT_REQUIRED). At most 5 "
                   "Type II and 5 Type III per customer (409 ACCOUNT_TYPE_ALREADY_OPEN).")
def open_account(req: Request) -> AccountOut:
    return accounts.open_account(req.caller, req.body)


@route(bp, "POST", "/v1/account/accounts/{account_id}/binding-verification", operation="verify_binding",
       summary="Verify a suspended account's binding again", center=CENTER, request_model=VerifyBindingIn,
       response_model=AccountOut, customer_only=True, errors=(404, 409, 422),
       path_params={"account_id": AccountNumber}, links=account_links("$response.body#/account_id"))
def verify_binding(req: Request) -> AccountOut:
    return accounts.reverify_binding(req.caller, req.path_params["account_id"], req.body)


@route(bp, "GET", "/v1/account/accounts", operation="list_accounts", summary="The caller's accounts",
       center=CENTER, response_model=AccountList, customer_only=True,
       links={**account_links("$response.body#/items/0/account_id"),
              "TransferBetween": Link.to("create_transfer", "A transfer between two of the caller's accounts.",
                                         body={"from_account": "$response.body#/items/0/account_id",
                                               "to_account": "$response.body#/items/1/account_id"})})
def list_accounts(req: Request) -> AccountList:
    return AccountList(items=accounts.list_accounts(req.caller))


@route(bp, "GET", "/v1/account/accounts/{account_id}", operation="get_account", summary="One of the caller's accounts",
       center=CENTER, response_model=AccountOut, customer_only=True, errors=(404,),
       path_params={"account_id": AccountNumber}, links=account_links("$response.body#/account_id"))
def get_account(req: Request) -> AccountOut:
    return accounts.account_out(accounts.owned_account(req.caller, req.path_params["account_id"]))


@route(bp, "GET", "/v1/account/accounts/{account_id}/statement", operation="get_statement",
       summary="Statement entries, newest first, cursor-paginated", center=CENTER, response_model=StatementPage,
       customer_only=True, errors=(404,), path_params={"account_id": AccountNumber},
       query={"limit": PageSize, "cursor": Cursor},
       links={"NextPage": Link.to("get_statement", "The next page (when next_cursor is not null).",
                                  parameters={"account_id": "$response.body#/account_id",
                                              "cursor": "$response.body#/next_cursor"})},
       description="Entries in the order they changed the balance, each with the exact balance after it. A credit "
                   "to a much-paid account may be posted shortly after the payment was accepted: `created_at` is "
                   "when the payment was accepted, `posted_at` when it was posted (only when later).")
def get_statement(req: Request) -> StatementPage:
    return accounts.statement(req.caller, req.path_params["account_id"], req.query.get("limit", 20),
                              req.query.get("cursor"))


@route(bp, "POST", "/v1/account/transfers", operation="create_transfer",
       summary="Transfer between accounts of the bank (idempotent, limits enforced atomically)", center=CENTER,
       request_model=TransferIn, response_model=TransferOut, status=201, customer_only=True, idempotent=True,
       headers={stepup.HEADER: stepup.Token}, errors=(403, 404, 409, 422),
       links=account_links("$response.body#/from_account"),
       description="Needs the e-account agreement. Limits: the bank's per channel and authentication level, the "
                   "customer's own (lower), and the PBOC caps of the paying account's type (transfers with its "
                   "bound account do not count); a Type II payee's inflow and a Type III payee's balance caps. "
                   "Every refusal about the payee is 422 PAYEE_CANNOT_RECEIVE. Step-up: from 5000.00 (the "
                   "configured threshold) a transfer needs a step-up token for this exact request in "
                   "X-Step-Up-Token (POST /v1/auth/step-up, then its verify): without one 403 STEP_UP_REQUIRED "
                   "(nothing is recorded under the key: retry it with the token), one for another request, "
                   "device or session 403 STEP_UP_INVALID, one already spent 409 STEP_UP_ALREADY_USED. A "
                   "transfer made with a step-up token is held to the step-up authentication level's (L3) "
                   "limits and spends the token in the same transaction as the money.")
def create_transfer(req: Request) -> dict[str, Any]:
    return transfers.transfer(req.caller, req.channel_name, req.key, req.body,
                              step_up_token=req.headers.get(stepup.HEADER.lower()))


@route(bp, "POST", "/v1/account/outbound-transfers", operation="create_outbound_transfer",
       summary="Transfer to an account at another bank (asynchronous, through the clearing system)", center=CENTER,
       request_model=OutboundIn, response_model=OutboundOut, status=202, customer_only=True, idempotent=True,
       errors=(404, 409, 422), links={"Status": Link.to("get_outbound_transfer", "The transfer's progress.",
                                                       parameters={"transfer_id": "$response.body#/transfer_id"})},
       description="The amount (and a 5.00 fee above 50000.00) is held at once, with its limits; the transfer "
                   "then goes to the clearing system. `status` moves from pending to completed (settled: the "
                   "held money leaves the account), returned (the receiving bank refused it: the money is "
                   "available again) or expired (no answer in time: released).")
def create_outbound_transfer(req: Request) -> dict[str, Any]:
    return clearing.create_outbound(req.caller, req.channel_name, req.key, req.body)


@route(bp, "GET", "/v1/account/outbound-transfers/{transfer_id}", operation="get_outbound_transfer",
       summary="An outbound transfer's progress", center=CENTER, response_model=OutboundOut, customer_only=True,
       errors=(404,), path_params={"transfer_id": HoldId})
def get_outbound_transfer(req: Request) -> OutboundOut:
    return clearing.outbound_status(req.caller, req.path_params["transfer_id"])


@route(bp, "POST", "/v1/ops/deposits", operation="create_deposit",
       summary="Credit an account with cash taken at the counter (tellers)", center=CENTER,
       request_model=DepositIn, response_model=DepositOut, status=201, roles=("teller", "ops"),
       idempotent=True, errors=(404, 409, 422), links=account_links("$response.body#/account_id"),
       description="Counts as inflow for a Type II account's PBOC caps (422 INFLOW_CAP_REACHED); a Type III "
                   "account holds at most 2000.00 (422 BALANCE_CAP_REACHED).")
def create_deposit(req: Request) -> dict[str, Any]:
    return transfers.deposit(req.caller, req.key, req.body)


@route(bp, "POST", "/v1/ops/accounts", operation="open_type_i_account",
       summary="Open a customer's Type I account at the counter (tellers)", center=CENTER,
       request_model=OpenTypeIIn, response_model=AccountOut, status=201, roles=("teller",),
       errors=(404, 409, 422, 503), links=account_links("$response.body#/account_id"),
       description="One Type I account per person (409 ACCOUNT_TYPE_ALREADY_OPEN); the customer's identity was "
                   "checked face to face (KYC L2, else 422 KYC_REQUIRED).")
def open_type_i_account(req: Request) -> AccountOut:
    return accounts.open_type_i(req.caller, req.body.customer_id)


@route(bp, "POST", "/v1/ops/accounts/{account_id}/freeze", operation="freeze_account",
       summary="Freeze an account: no money in or out", center=CENTER, request_model=StatusChangeIn,
       response_model=AccountOut, roles=OPS, errors=(404, 409), path_params={"account_id": AccountNumber})
def freeze_account(req: Request) -> AccountOut:
    return accounts.freeze(req.caller, req.path_params["account_id"], req.body.reason)


@route(bp, "POST", "/v1/ops/accounts/{account_id}/unfreeze", operation="unfreeze_account",
       summary="Unfreeze an account", center=CENTER, request_model=StatusChangeIn, response_model=AccountOut,
       roles=OPS, errors=(404, 409), path_params={"account_id": AccountNumber})
def unfreeze_account(req: Request) -> AccountOut:
    return accounts.unfreeze(req.caller, req.path_params["account_id"], req.body.reason)


@route(bp, "POST", "/v1/ops/accounts/{account_id}/closure", operation="close_account",
       summary="Close an account with a zero balance", center=CENTER, request_model=StatusChangeIn,
       response_model=AccountOut, roles=OPS, errors=(404, 409, 422), path_params={"account_id": AccountNumber})
def close_account(req: Request) -> AccountOut:
    return accounts.close(req.caller, req.path_params["account_id"], req.body.reason)


@route(bp, "POST", "/v1/ops/reversals", operation="reverse_transfer",
       summary="Reverse a transfer or deposit (same day: its limit usage is given back)", center=CENTER,
       request_model=ReversalIn, response_model=ReversalOut, status=201, roles=OPS, idempotent=True,
       errors=(404, 409, 422),
       description="One reversal per movement: any retry, under any key, replays it. The credited account must "
                   "still hold the money (422 INSUFFICIENT_FUNDS). On the same Asia/Shanghai day as the original, "
                   "the limit usage it counted for is given back (`quota_returned`).")
def reverse_transfer(req: Request) -> dict[str, Any]:
    return transfers.reverse(req.caller, req.key, req.body)
