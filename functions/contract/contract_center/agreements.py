"""Agreements: versioned templates with the hash of their text, signatures with their evidence (customer,
time, channel, device, template version and hash), revocation. Operations that need an agreement check the
signature in force themselves (bank_common.agreements), inside their own batched read."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from bank_common import agreements, obs
from bank_common.agreements import Signature
from bank_common.errors import BusinessRuleViolation, Conflict, NotFound
from bank_common.principal import Principal
from contract_center import store
from contract_center.models import AgreementIndex, AgreementTemplate
from contract_center.schemas import AgreementOut, SignIn, TemplateIn, TemplateOut

MAX_TRIES = 5


class TemplateNotFound(NotFound):
    code, message = "AGREEMENT_TEMPLATE_NOT_FOUND", "No such agreement template."


class AgreementNotFound(NotFound):
    code, message = "AGREEMENT_NOT_FOUND", "No such agreement for this customer."


class VersionNotCurrent(BusinessRuleViolation):
    code, message = "AGREEMENT_VERSION_NOT_CURRENT", "Only the current version of an agreement can be signed."


class HashMismatch(BusinessRuleViolation):
    code, message = "AGREEMENT_HASH_MISMATCH", "The text signed is not the text of that version."


class AgreementNotInForce(Conflict):
    code, message = "AGREEMENT_NOT_IN_FORCE", "The agreement is revoked or replaced by a newer signature."


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def template_out(t: AgreementTemplate) -> TemplateOut:
    return TemplateOut(code=t.code, version=int(t.version), title=t.title, content=t.content,
                       content_hash=t.content_hash, created_at=t.created_at)


def publish(staff: Principal, body: TemplateIn) -> TemplateOut:
    """A new version of an agreement's text (the first is version 1)."""
    for _ in range(MAX_TRIES):
        latest = store.latest_template(body.code)
        version = 1 if latest is None else int(latest.version) + 1
        item = AgreementTemplate(store.template_pk(body.code), store.version_sk(version), code=body.code,
                                 version=version, title=body.title, content=body.content,
                                 content_hash=content_hash(body.content), created_by=staff.subject,
                                 created_at=store.now())
        try:
            store.put_template(item)
        except store.VersionTaken:
            continue
        obs.log().info("agreement version published", extra={"code": body.code, "version": version,
                                                              "staff": staff.subject})
        return template_out(item)
    raise Conflict("Another version was published at the same time; try again.", code="CONCURRENT_UPDATE")


def latest(code: str) -> TemplateOut:
    found = store.latest_template(code)
    if found is None:
        raise TemplateNotFound()
    return template_out(found)


def agreement_out(sig: Signature) -> AgreementOut:
    return AgreementOut(agreement_id=sig.agreement_id, template_code=sig.template_code, version=int(sig.version),
                        content_hash=sig.content_hash, signed_at=sig.signed_at, channel=sig.channel,
                        device_id=sig.device_id, status=sig.status,  # type: ignore[arg-type]
                        revoked_at=sig.revoked_at)


def sign(caller: Principal, channel: str, body: SignIn) -> AgreementOut:
    """Sign the current version of a template, with the evidence of who, when, where and what exactly.
    Signing the version already in force answers that signature again (racing signings end with one)."""
    found = store.template(body.template_code, body.version)
    if found is None:
        raise TemplateNotFound()
    current_version = store.latest_template(body.template_code)
    if current_version is not None and int(current_version.version) != body.version:
        raise VersionNotCurrent(details={"current_version": int(current_version.version)})
    if found.content_hash != body.content_hash:
        raise HashMismatch()
    for _ in range(MAX_TRIES):
        current = store.current_signature(caller.subject, body.template_code)
        if current is not None and current.status == "signed" and int(current.version) == body.version:
            return agreement_out(current)
        agreement_id = "agr-" + uuid.uuid4().hex
        fields: dict[str, Any] = dict(
            agreement_id=agreement_id, customer_id=caller.subject, template_code=body.template_code,
            version=body.version, content_hash=found.content_hash, signed_at=store.now(), channel=channel,
            device_id=caller.device_id, status="signed")
        new = Signature(agreements.signature_pk(caller.subject), agreements.current_sk(body.template_code), **fields)
        history = Signature(new.pk, store.history_sk(new), **fields)
        index = AgreementIndex(f"AGR#{agreement_id}", "AGR", customer_id=caller.subject,
                               template_code=body.template_code)
        try:
            store.sign(new, history, index, current)
        except store.SignatureChanged:
            continue
        obs.log().info("agreement signed", extra={"code": body.template_code, "version": body.version,
                                                  "agreement": agreement_id, "channel": channel})
        return agreement_out(new)
    raise Conflict("The agreement changed meanwhile; try again.", code="CONCURRENT_UPDATE")


def owned(caller: Principal, agreement_id: str) -> Signature:
    """The signature with this id, if it is the caller's (someone else's looks exactly like a missing one)."""
    index = store.agreement_owner(agreement_id)
    if index is None or index.customer_id != caller.subject:
        raise AgreementNotFound()
    current = store.current_signature(caller.subject, index.template_code)
    if current is not None and current.agreement_id == agreement_id:
        return current
    for item in Signature.query(agreements.signature_pk(caller.subject),
                                Signature.sk.startswith(f"H#{index.template_code}#"), consistent_read=True):
        if item.agreement_id == agreement_id:
            return item
    raise AgreementNotFound()


def get(caller: Principal, agreement_id: str) -> AgreementOut:
    return agreement_out(owned(caller, agreement_id))


def mine(caller: Principal) -> list[AgreementOut]:
    return [agreement_out(s) for s in store.signatures_of(caller.subject)]


def revoke(caller: Principal, agreement_id: str) -> AgreementOut:
    """Revoke the signature in force; operations that need it are refused from now on."""
    signature = owned(caller, agreement_id)
    current = store.current_signature(caller.subject, signature.template_code)
    if signature.status != "signed" or current is None or current.agreement_id != agreement_id:
        raise AgreementNotInForce()
    at = store.now()
    if not store.revoke(current, at):
        raise AgreementNotInForce()
    obs.log().info("agreement revoked", extra={"agreement": agreement_id, "code": signature.template_code})
    current.status, current.revoked_at = "revoked", at
    return agreement_out(current)
