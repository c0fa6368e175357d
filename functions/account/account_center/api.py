"""Routes of the account center: parse → call logic → shape the response. Nothing else lives here."""

from __future__ import annotations

from typing import Any

from account_center import logic
from account_center.schemas import (
    AccountList,
    AccountNumber,
    AccountOut,
    Cursor,
    DepositIn,
    DepositOut,
    OpenAccountIn,
    PageSize,
    StatementPage,
    TransferIn,
    TransferOut,
)
from bank_common.http import Blueprint, Link, Request, route

bp = Blueprint(__name__)
CENTER = "account"


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
       errors=(409, 422), links=account_links("$response.body#/account_id"))
def open_account(req: Request) -> AccountOut:
    return logic.open_account(req.caller, req.body.type)


@route(bp, "GET", "/v1/account/accounts", operation="list_accounts", summary="The caller's accounts",
       center=CENTER, response_model=AccountList, customer_only=True,
       links={**account_links("$response.body#/items/0/account_id"),
              "TransferBetween": Link.to("create_transfer", "A transfer between two of the caller's accounts.",
                                         body={"from_account": "$response.body#/items/0/account_id",
                                               "to_account": "$response.body#/items/1/account_id"})})
def list_accounts(req: Request) -> AccountList:
    return AccountList(items=logic.list_accounts(req.caller))


@route(bp, "GET", "/v1/account/accounts/{account_id}", operation="get_account", summary="One of the caller's accounts",
       center=CENTER, response_model=AccountOut, customer_only=True, errors=(404,),
       path_params={"account_id": AccountNumber}, links=account_links("$response.body#/account_id"))
def get_account(req: Request) -> AccountOut:
    return logic.account_out(logic.owned_account(req.caller, req.path_params["account_id"]))


@route(bp, "GET", "/v1/account/accounts/{account_id}/statement", operation="get_statement",
       summary="Statement entries, newest first, cursor-paginated", center=CENTER, response_model=StatementPage,
       customer_only=True, errors=(404,), path_params={"account_id": AccountNumber},
       query={"limit": PageSize, "cursor": Cursor},
       links={"NextPage": Link.to("get_statement", "The next page (when next_cursor is not null).",
                                  parameters={"account_id": "$response.body#/account_id",
                                              "cursor": "$response.body#/next_cursor"})})
def get_statement(req: Request) -> StatementPage:
    return logic.statement(req.caller, req.path_params["account_id"], req.query.get("limit", 20),
                           req.query.get("cursor"))


@route(bp, "POST", "/v1/account/transfers", operation="create_transfer",
       summary="Transfer between accounts (idempotent, limits enforced atomically)", center=CENTER,
       request_model=TransferIn, response_model=TransferOut, status=201, customer_only=True, idempotent=True,
       errors=(404, 409, 422), links=account_links("$response.body#/from_account"))
def create_transfer(req: Request) -> dict[str, Any]:
    return logic.transfer(req.caller, req.channel_name, req.key, req.body)


@route(bp, "POST", "/v1/ops/deposits", operation="create_deposit",
       summary="Credit an account with cash taken at the counter (tellers)", center=CENTER,
       request_model=DepositIn, response_model=DepositOut, status=201, roles=("teller", "ops"),
       idempotent=True, errors=(404, 409, 422), links=account_links("$response.body#/account_id"))
def create_deposit(req: Request) -> dict[str, Any]:
    return logic.deposit(req.caller, req.key, req.body)
