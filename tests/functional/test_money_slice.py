"""The first vertical slice through the API, on moto: register, login, open, deposit, transfer."""

from __future__ import annotations

from tests.support.api import Api, check_first_slice, check_replay


def test_register_login_open_deposit_transfer(api: Api, teller: str, new_mobile) -> None:
    check_first_slice(api, teller, new_mobile)


def test_same_key_replays_and_other_body_is_422(api: Api, teller: str, new_mobile) -> None:
    check_replay(api, teller, new_mobile)
