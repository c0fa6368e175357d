"""Data access of the contract & limit center: agreement templates and signatures, limit definitions with
their audit trail, and reading limit usage (which the money transactions write, through the layer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError

from bank_common import agreements, ddb, limits, stepup
from bank_common.agreements import Signature
from bank_common.ddb import n, s
from bank_common.limits import LimitDefinition, LimitUsage
from contract_center.models import AgreementIndex, AgreementTemplate


def now() -> str:
    """When something is stored (UTC, microseconds, as the other centers write it)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def template_pk(code: str) -> str:
    return f"TPL#{code}"


def version_sk(version: int) -> str:
    return f"V#{version:06d}"


# --- templates -----------------------------------------------------------------------------------------

def latest_template(code: str) -> AgreementTemplate | None:
    for template in AgreementTemplate.query(template_pk(code), AgreementTemplate.sk.startswith("V#"),
                                            scan_index_forward=False, limit=1, consistent_read=True):
        return template
    return None


def template(code: str, version: int) -> AgreementTemplate | None:
    try:
        return AgreementTemplate.get(template_pk(code), version_sk(version), consistent_read=True)
    except AgreementTemplate.DoesNotExist:
        return None


class VersionTaken(Exception):
    pass


def put_template(item: AgreementTemplate) -> None:
    """A new version, only if that version number is still free (two ops editing at once: one wins)."""
    try:
        item.save(condition=AgreementTemplate.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise VersionTaken() from exc
        raise


# --- signatures ----------------------------------------------------------------------------------------

def current_signature(customer_id: str, code: str) -> Signature | None:
    try:
        return Signature.get(agreements.signature_pk(customer_id), agreements.current_sk(code), consistent_read=True)
    except Signature.DoesNotExist:
        return None


def signatures_of(customer_id: str) -> list[Signature]:
    return list(Signature.query(agreements.signature_pk(customer_id), Signature.sk.startswith("CUR#"),
                                consistent_read=True))


def agreement_owner(agreement_id: str) -> AgreementIndex | None:
    try:
        return AgreementIndex.get(f"AGR#{agreement_id}", "AGR", consistent_read=True)
    except AgreementIndex.DoesNotExist:
        return None


class SignatureChanged(Exception):
    """The current signature is not what was read (another signing or a revocation got there first)."""


def sign(current: Signature, history: Signature, index: AgreementIndex, replaced: Signature | None) -> None:
    """The new current signature (only if the current one is still the one read), its copy in the history
    and its id, in one transaction."""
    put = ddb.put_new(current) if replaced is None else _replace(current, replaced)
    try:
        ddb.transact_write([put, ddb.put_new(history), ddb.put_new(index)])
    except ddb.TransactionCancelled as exc:
        raise SignatureChanged() from exc


def _replace(current: Signature, replaced: Signature) -> dict[str, Any]:
    return {"Put": {
        "TableName": ddb.table_name(Signature),
        "Item": current.serialize(),
        "ConditionExpression": "agreement_id = :prev AND #st = :prev_status",
        "ExpressionAttributeNames": {"#st": "status"},
        "ExpressionAttributeValues": {":prev": s(replaced.agreement_id), ":prev_status": s(replaced.status)},
    }}


def revoke(signature: Signature, revoked_at: str) -> bool:
    """signed → revoked, for this agreement id only; the history entry is marked too. False if it was not
    the signature in force any more."""
    condition = "agreement_id = :id AND #st = :signed"
    values = {":id": s(signature.agreement_id), ":signed": s("signed"), ":revoked": s("revoked"),
              ":at": s(revoked_at)}
    items = [{"Update": {
        "TableName": ddb.table_name(Signature),
        "Key": {"pk": s(signature.pk), "sk": s(sk)},
        "UpdateExpression": "SET #st = :revoked, revoked_at = :at",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#st": "status"},
        "ExpressionAttributeValues": values,
    }} for sk in (signature.sk, history_sk(signature))]
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled:
        return False
    return True


def history_sk(signature: Signature) -> str:
    return f"H#{signature.template_code}#{signature.signed_at}#{signature.agreement_id}"


# --- limit definitions ---------------------------------------------------------------------------------

def definition(pk: str) -> LimitDefinition | None:
    try:
        return LimitDefinition.get(pk, limits.CURRENT, consistent_read=True)
    except LimitDefinition.DoesNotExist:
        return None


def definitions(pks: list[str]) -> dict[str, dict[str, Any]]:
    """Several definitions by pk, in one batch (wire format, as the money path reads them)."""
    table = ddb.table_name(LimitDefinition)
    found = ddb.batch_get({table: [{"pk": s(pk), "sk": s(limits.CURRENT)} for pk in dict.fromkeys(pks)]})
    return {item["pk"]["S"]: item for item in found[table]}


def bank_definitions() -> list[LimitDefinition]:
    """Every bank default and account-type definition (ops' view; a small table, scanned)."""
    return [d for d in LimitDefinition.scan(LimitDefinition.sk == limits.CURRENT, consistent_read=True)
            if d.pk.startswith(("BANK#", "ACCTYPE#"))]


def audit_trail(pk: str, limit: int = 100) -> list[LimitDefinition]:
    return list(LimitDefinition.query(pk, LimitDefinition.sk.startswith("AUDIT#"), scan_index_forward=False,
                                      limit=limit, consistent_read=True))


class RevisionChanged(Exception):
    pass


def save_definition(new: LimitDefinition, previous_revision: int | None, audit: LimitDefinition | None,
                    step_up: stepup.Grant | None = None) -> None:
    """Write a definition (first: only if absent; else only if still at `previous_revision`) with its audit
    entry, in one transaction, which also spends the step-up that allowed it (409 STEP_UP_ALREADY_USED)."""
    item: dict[str, Any] = {"Put": {"TableName": ddb.table_name(LimitDefinition), "Item": new.serialize()}}
    if previous_revision is None:
        item["Put"] |= {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        item["Put"] |= {"ConditionExpression": "revision = :rev",
                        "ExpressionAttributeValues": {":rev": n(previous_revision)}}
    try:
        ddb.transact_write([item] + ([ddb.put_new(audit)] if audit is not None else [])
                           + ([stepup.consume_item(step_up)] if step_up is not None else []))
    except ddb.TransactionCancelled as exc:
        if step_up is not None and exc.reasons:
            stepup.explain(exc.reasons[-1])  # the step-up part is last
        raise RevisionChanged() from exc


def usage(keys: list[str]) -> dict[str, dict[str, Any]]:
    table = ddb.table_name(LimitUsage)
    found = ddb.batch_get({table: [{"pk": s(k)} for k in dict.fromkeys(keys)]})
    return {item["pk"]["S"]: item for item in found[table]}
