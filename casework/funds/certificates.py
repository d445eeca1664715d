"""Certificates (最低生活保障证, 特困人员救助供养证): issued when a case is approved, numbered in one
series per township and kind, replaced (the old one revoked with the reason), revoked on exit."""

from schema import clock, RecordInvalid

from casework.core import numbering
from casework.funds.care import effect

def _number(models, village_id, kind):
    prefix = f"{numbering.township_code(models, village_id)}{kind}"
    return numbering.next_number(models["certificate"].number, prefix, 5)


@effect("issue_certificate")
def issue_certificate(flow, record, user, today):
    models = flow.models
    kind = models.registry.option_attr("assistance_type", record.assistance_type, "certificate")
    Care = models["care"]
    care = Care.select().where(Care.case == record.id).first()
    if kind and care is not None:
        models["certificate"](care=care.id, kind=kind, issued_on=today).save()


def install(models):
    if "certificate" not in models.registry.entities:
        return
    Certificate, Care = models["certificate"], models["care"]

    @models.hooks.on("certificate", "before_save")
    def before(record, old):
        if old is not None:
            return                  # only revoking changes it (`immutable_after` in certificate.yaml)
        care = Care.get_or_none(id=record.__data__.get("care"))
        if care is None or care.status != "in_care":
            raise RecordInvalid({"care": "只能为在保对象发证"})
        valid = Certificate.select().where(Certificate.care == care.id, Certificate.status == "valid")
        if valid.exists() and not (record.replace_reason or "").strip():
            raise RecordInvalid({"replace_reason": "该对象已有有效证件，补换证须写明原因"})
        record.village = care.__data__["village"]
        record.number = _number(models, care.__data__["village"], record.kind)
        record.issued_on = record.issued_on or clock.today()
        record.status = "valid"

    @models.hooks.on("certificate", "after_change")
    def replaced(record, action, old):
        reason = f"补换证（新证 {record.number}）：{record.replace_reason}" if record.replace_reason else None
        if action == "create" and reason:
            revoke(models, record.__data__["care"], reason, keep=record.id)

    @models.hooks.on("care_change", "after_change")
    def cancelled(record, action, old):
        if action == "create" and record.kind == "cancel":
            revoke(models, record.__data__["care"], f"注销在保：{record.reason}")


def revoke(models, care_id, reason, keep=None):
    Certificate = models["certificate"]
    query = Certificate.select().where(Certificate.care == care_id, Certificate.status == "valid")
    if keep:
        query = query.where(Certificate.id != keep)
    for cert in query:
        cert.status, cert.revoked_on, cert.revoke_reason = "revoked", clock.today(), reason[:100]
        cert.save()
