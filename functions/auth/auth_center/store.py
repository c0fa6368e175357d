"""Data access of the authentication center."""

from __future__ import annotations

from pynamodb.exceptions import PutError

from auth_center.models import Credential, Session


class LoginTaken(Exception):
    pass


def get_credential(login: str) -> Credential | None:
    try:
        return Credential.get(login, consistent_read=True)
    except Credential.DoesNotExist:
        return None


def create_credential(credential: Credential) -> None:
    try:
        credential.save(condition=Credential.login.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise LoginTaken() from exc
        raise


def record_failure(credential: Credential, lock_until: int | None) -> None:
    if lock_until is None:
        credential.update(actions=[Credential.failed_attempts.add(1)])
    else:  # lock, and start counting afresh once the lock ends
        credential.update(actions=[Credential.locked_until.set(lock_until), Credential.failed_attempts.set(0)])


def record_success(credential: Credential, new_hash: str | None = None) -> None:
    """Reset the failure count and, when the hashing parameters changed, store the password's new hash."""
    actions = [Credential.failed_attempts.set(0)] if credential.failed_attempts else []
    if new_hash:
        actions.append(Credential.password_hash.set(new_hash))
    if actions:
        credential.update(actions=actions)


def save_session(session: Session) -> None:
    session.save(condition=Session.token_hash.does_not_exist())
