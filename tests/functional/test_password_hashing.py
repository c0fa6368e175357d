"""Passwords are argon2id at OWASP's minimum parameters; hashes made with older parameters are upgraded
on the next successful login (and only then: a wrong password changes nothing)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.low_level import Type

from tests.support.api import Api, device_of


def stored_hash(login: str) -> str:
    from auth_center import store

    credential = store.get_credential(login)
    assert credential is not None
    return str(credential.password_hash)


def test_new_credentials_use_owasp_parameters(api: Api, new_mobile) -> None:
    mobile = new_mobile()
    api.register(mobile)
    stored = stored_hash(f"mobile:{mobile}")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), stored


def test_old_parameter_hash_is_upgraded_at_login(api: Api, new_mobile) -> None:
    from auth_center.models import Credential

    mobile = new_mobile()
    api.register(mobile)
    legacy = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4, type=Type.ID)
    credential = Credential.get(f"mobile:{mobile}")
    credential.update(actions=[Credential.password_hash.set(legacy.hash("Passw0rd-demo"))])

    bad = api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": "Wrong-passw0rd"},
                   headers={"X-Device-Id": device_of(mobile)})
    assert bad.status == 401
    assert stored_hash(f"mobile:{mobile}").startswith("$argon2id$v=19$m=65536,t=3,p=4$")

    api.login(mobile, "Passw0rd-demo")
    upgraded = stored_hash(f"mobile:{mobile}")
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), upgraded
    assert PasswordHasher().verify(upgraded, "Passw0rd-demo")
    api.login(mobile, "Passw0rd-demo")  # the upgraded hash verifies at login too
