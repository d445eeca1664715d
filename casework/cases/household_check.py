"""Household economic check (家庭经济状况核对, 57号 chapter 3) beyond the income items: the support
obligors' monthly contributions (counted as income unless an exempting reason the setting lists
applies), the household's assets against the limits in the settings, and the results each source
department (004号: 18 of them) sent back for a case.

The calculators (benefits.py) read these and format them; this module only gathers and counts, so it
never imports benefits (benefits imports it)."""
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from casework.core.imports import Importer


def codes(text):
    """A setting's comma list ("a,b", "a，b", "a、b") as a set of codes."""
    return {p.strip() for p in str(text or "").replace("，", ",").replace("、", ",").split(",") if p.strip()}


def _live(model, query):
    if model._spec.archive:
        query = query.where(model.archived == False)  # noqa: E712
    return query


def obligors(models, household_id, exempt_codes, member_id=None):
    """[(obligor, counted)] of the household, in entry order; only those supporting `member_id` when
    given (单人保 counts only what the applicant receives). An obligor whose exemption reason is in
    the setting's list is listed but not counted."""
    if "support_obligor" not in models.models:
        return []
    Obligor = models["support_obligor"]
    query = _live(Obligor, Obligor.select().where(Obligor.household == household_id))
    if member_id is not None:
        query = query.where(Obligor.supported == member_id)
    return [(o, not (o.exemption and o.exemption in exempt_codes)) for o in query.order_by(Obligor.id)]


@dataclass
class Assets:
    houses: int = 0
    vehicles: int = 0
    financial: Fraction = Fraction(0)
    rows: list = field(default_factory=list)      # (asset, limit code or None, counted)

    @property
    def any(self):
        return bool(self.rows)


def assets(models, registry, household_id):
    """The household's assets counted by the limit each kind falls under (asset_kind's `limit`);
    rows with a reason not to count them (a disabled person's car) are listed only."""
    out = Assets()
    if "household_asset" not in models.models:
        return out
    Asset = models["household_asset"]
    for a in _live(Asset, Asset.select().where(Asset.household == household_id)).order_by(Asset.id):
        limit = registry.option_attr("asset_kind", a.kind, "limit")
        counted = limit is not None and not (a.exempt_reason or "").strip()
        out.rows.append((a, limit, counted))
        if not counted:
            continue
        if limit == "house":
            out.houses += 1
        elif limit == "vehicle":
            out.vehicles += 1
        elif limit == "financial":
            out.financial += Fraction(Decimal(a.value or 0))
    return out


def over_limits(found, settings, standard_amount, persons):
    """[(limit code, reason)] for each limit the household's assets exceed. The financial limit is per
    person: (deposits + securities) ÷ persons against months × the standard."""
    wrong = []
    houses, vehicles = int(settings.get("asset_house_max")), int(settings.get("asset_vehicle_max"))
    if found.houses > houses:
        wrong.append(("house", f"家庭有住房 {found.houses} 套，超过限额 {houses} 套（设置“家庭财产：住房最多几套”）"))
    if found.vehicles > vehicles:
        wrong.append(("vehicle", f"家庭有机动车辆 {found.vehicles} 辆，超过限额 {vehicles} 辆"
                                 f"（设置“家庭财产：机动车辆最多几辆”）"))
    months = int(settings.get("asset_financial_months"))
    limit = Fraction(Decimal(standard_amount)) * months
    per_person = found.financial / persons if persons else found.financial
    if per_person > limit:
        wrong.append(("financial", f"家庭人均存款和有价证券 {_fen(per_person)} 元，超过限额 {_fen(limit)} 元"
                                   f"（{Decimal(standard_amount):.2f} 元低保标准 × {months} 个月，"
                                   f"设置“家庭财产：人均存款和有价证券不超过几个月的低保标准”）"))
    return wrong


def _fen(value):
    return f"{Decimal(value.numerator) / Decimal(value.denominator):,.2f}"


@dataclass
class DepartmentStatus:
    answered: list = field(default_factory=list)   # (department label, result label, detail, date, abnormal)
    waiting: list = field(default_factory=list)    # department labels with no answer yet

    @property
    def abnormal(self):
        return [a for a in self.answered if a[4]]


def department_status(models, registry, case_id):
    """Which of the source departments (check_department) have answered for the case and how; those
    without a row, or with 未反馈, are waiting."""
    options = registry.options
    departments = options["check_department"]
    out = DepartmentStatus()
    if "department_check" not in models.models:
        return out
    Check = models["department_check"]
    rows = {c.department: c for c in Check.select().where(Check.case == case_id)}
    for code in departments.labels:
        row = rows.get(code)
        if row is None or row.result == "pending":
            out.waiting.append(departments.label_of(code))
            continue
        out.answered.append((departments.label_of(code), options["check_outcome"].label_of(row.result),
                             row.detail or "", row.checked_on, row.result == "abnormal"))
    return out


class UnknownDepartment(ValueError):
    """The department named for an import is not one of check_department's."""


def department_code(registry, given):
    """A department's code from its code or its name (the option's label, or the part before （)."""
    departments = registry.options["check_department"]
    text = str(given or "").strip()
    if text in departments.labels:
        return text
    for code, label in departments.labels.items():
        if text and text in (label, label.split("（")[0]):
            return code
    listed = "、".join(f"{c} {label}" for c, label in departments.labels.items())
    raise UnknownDepartment(f"没有核对部门“{text}”。可填代码或名称：{listed}")


def import_department_results(engine, user, department, data, filename, dry_run=False):
    """One department's results file (事项编号, 核对结果, 核对情况, 反馈日期; a 核对部门 column is optional
    and must then name this department): the generic importer's all-or-nothing rules, every row given
    this department."""
    code = department_code(engine.registry, department)
    return Importer(engine, "department_check", user, fixed={"department": code}).run(
        data, filename, dry_run=dry_run)
