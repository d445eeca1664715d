"""Data checks (数据比对): deaths, the same person in care twice, near relatives of cadres and staff,
amounts that differ from the calculator. Each finding is a `check_result` row the township works
through; running the checks again adds only what is new (a finding's key is stable).

A death among people in care holds that care's payments from the month after the finding until the
finding is dismissed (the payment run reads `payments.held_care`).
"""
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import peewee as pw

from schema import clock, RecordInvalid, types

from casework.cases import benefits
from schema import idnumber
from casework.core import system, tabular
from casework.funds.care import next_month
from casework.core.imports import Problem

def _today(engine):
    return clock.today()


class Finder:
    """Collects the findings of one run and writes the new ones."""

    def __init__(self, engine):
        self.engine, self.models = engine, engine.models
        self.today = _today(engine)
        self.rows = {}

    def add(self, kind, key, detail, **values):
        self.rows.setdefault(f"{kind}:{key}", dict(values, kind=kind, detail=detail))

    def write(self):
        Result = self.models["check_result"]
        known = set()
        keys = list(self.rows)
        for part in pw.chunked(keys, 500):
            known |= {k for (k,) in Result.select(Result.key).where(Result.key.in_(part)).tuples()}
        made = Counter()
        token = system.actor.set((None, "数据比对", None))
        try:
            for key, values in self.rows.items():
                if key in known:
                    continue
                Result(key=key, found_on=self.today, status="open", **values).save()
                made[values["kind"]] += 1
        finally:
            system.actor.reset(token)
        return made


# -- the four checks -----------------------------------------------------------------------------------

def _people_in_care(models):
    """(id number, name, household, care id, village) of every member of a household in care."""
    Care, Member = models["care"], models["member"]
    return (Member.select(Member.id_number, Member.name, Member.household, Care.id, Care.village)
            .join(Care, on=(Care.household == Member.household))
            .where(Care.status == "in_care", Member.archived == False).tuples())  # noqa: E712


def check_deaths(finder):
    models = finder.models
    Death, Care, Member = models["death_record"], models["care"], models["member"]
    hold = next_month(finder.today.strftime("%Y-%m"))
    query = (Member.select(Member.id_number, Member.name, Member.household, Care.id, Care.village, Death.death_date)
             .join(Care, on=(Care.household == Member.household))
             .join_from(Member, Death, on=(Death.id_number == Member.id_number))
             .where(Care.status == "in_care", Member.archived == False).tuples())  # noqa: E712
    for id_number, name, household, care_id, village, died in query:
        finder.add("death", f"{id_number}:{care_id}", f"死亡人员名单记载 {name} 于 {died} 死亡，仍在保障人员中；"
                   f"自 {hold} 起暂缓发放，请入户核实后办理注销或调减（死亡后3个月内完成复核）",
                   village=village, household=household, care=care_id, person_name=name, id_number=id_number,
                   hold_from=hold)


def check_duplicates(finder):
    models = finder.models
    Care, Household, Member = models["care"], models["household"], models["member"]
    # one household with two rows in care of the same kind of aid
    rows = Care.select(Care.id, Care.household, Care.assistance_type, Care.village, Care.head_name).where(
        Care.status == "in_care").order_by(Care.household, Care.id).tuples()
    # the families paid monthly (低保, 特困: `monthly` in options/assistance_family.yaml) allow one row a household
    registry = models.registry
    families = registry.options["assistance_family"]
    monthly = set(families.codes_with(monthly=True))
    family_of = {o.code: o.attrs.get("family") for o in registry.options["assistance_type"].options}
    seen = {}
    for care_id, household, kind, village, head in rows:
        family = family_of.get(kind)
        if family not in monthly:
            continue
        first = seen.setdefault((household, family), care_id)
        if first != care_id:
            finder.add("duplicate", f"household:{household}:{family}", f"同一家庭有两条{families.label_of(family)}在保记录",
                       village=village, household=household, care=care_id, person_name=head)
    # one person counted in two households in care: a head registered as a member elsewhere
    Other = Care.alias()
    query = (Household.select(Household.head_id_number, Household.head_name, Household.id, Care.village,
                              Member.household)
             .join(Care, on=(Care.household == Household.id))
             .join_from(Household, Member, on=(Member.id_number == Household.head_id_number))
             .join_from(Member, Other, on=(Other.household == Member.household))
             .where(Care.status == "in_care", Other.status == "in_care", Member.household != Household.id,
                    Member.archived == False).distinct().tuples())  # noqa: E712
    for id_number, name, household, village, other in query:
        finder.add("duplicate", f"person:{id_number}", f"{name} 既是本户户主，又是另一在保家庭（#{other}）的成员，"
                   f"可能重复享受", village=village, household=household, person_name=name, id_number=id_number)


def check_relatives(finder):
    models = finder.models
    Relative, Cadre, Case = models["cadre_relative"], models["cadre"], models["case"]
    relatives = {}
    for id_number, name, relation, cadre_name, position in (
            Relative.select(Relative.id_number, Relative.name, Relative.relation, Cadre.name, Cadre.position)
            .join(Cadre, on=(Relative.cadre == Cadre.id)).tuples()):
        relatives.setdefault(id_number, (name, relation, cadre_name, position))
    if not relatives:
        return
    options = models.registry.options
    ids = list(relatives)

    def words(id_number):
        name, relation, cadre_name, position = relatives[id_number]
        return (f"{name} 是{options['cadre_position'].label_of(position)} {cadre_name} 的"
                f"{options['near_relation'].label_of(relation)}")
    for chunk in pw.chunked(ids, 500):
        for id_number, name, household, care_id, village in _people_in_care(models).where(
                models["member"].id_number.in_(chunk)):
            finder.add("relative", f"care:{id_number}:{care_id}", f"{words(id_number)}，在保障人员中；请核实是否已备案",
                       village=village, household=household, care=care_id, person_name=name, id_number=id_number)
        open_cases = Case.select(Case.id, Case.applicant_id_number, Case.applicant_name, Case.household,
                                 Case.village, Case.near_relative).where(
            Case.applicant_id_number.in_(chunk), Case.state.not_in(models.registry.final_states("case"))).tuples()
        for case_id, id_number, name, household, village, registered in open_cases:
            note = "" if registered else "；该事项未勾选“近亲属备案”，应备案并经县级入户核查"
            finder.add("relative", f"case:{id_number}:{case_id}", f"申请人{words(id_number)}{note}",
                       village=village, household=household, case=case_id, person_name=name, id_number=id_number)


def check_amounts(finder):
    """Each care row's amount against what its calculator gives this month (the decided case where
    there is one, else the household as it is). Rows whose calculator cannot run are skipped."""
    engine, models = finder.engine, finder.models
    Care, Case = models["care"], models["case"]
    month = finder.today.strftime("%Y-%m")
    registry = models.registry
    rows = (Care.select(Care.id, Care.household, Care.assistance_type, Care.monthly_amount, Care.village,
                        Care.head_name, Care.case).where(Care.status == "in_care", Care.start_month <= month)
            .order_by(Care.id).tuples())
    cases = {}
    for care_id, household, kind, amount, village, head, case_id in rows:
        wf = registry.workflow_for("case", kind, {"purpose": "apply"})
        name = wf.calculators.get(kind) if wf else None
        if name is None:
            continue
        record = cases.get(case_id) if case_id else None
        if case_id and record is None:
            record = cases[case_id] = Case.get_or_none(id=case_id)
        if record is None:
            record = Case(household=household, assistance_type=kind)
        result = benefits.compute(engine, record, name, month)
        if result.amount is None:
            continue
        if abs(Decimal(result.amount) - Decimal(amount)) >= Decimal("0.01"):
            finder.add("amount", f"{care_id}:{month}:{amount}:{result.amount}",
                       f"{month} 在保金额 {Decimal(amount):.2f} 元，按现行标准和家庭收入测算为 {Decimal(result.amount):.2f} 元，"
                       f"相差 {Decimal(result.amount) - Decimal(amount):+.2f} 元；请核实后调整或说明理由",
                       village=village, household=household, care=care_id, person_name=head)


def check_heads(finder):
    """Households registered before the one-person-one-household rule: one head ID on two live
    households, or a head who is not a member of their own household."""
    models = finder.models
    Household, Member = models["household"], models["member"]
    live = Household.archived == False  # noqa: E712
    twice = (Household.select(Household.head_id_number).where(live, Household.head_id_number.is_null(False))
             .group_by(Household.head_id_number).having(pw.fn.COUNT(Household.id) > 1))
    rows = (Household.select(Household.id, Household.code, Household.head_name, Household.head_id_number,
                             Household.village)
            .where(live, Household.head_id_number.in_(twice)).order_by(Household.head_id_number, Household.id).tuples())
    codes = {}
    for _id, code, _name, number, _village in rows:
        codes.setdefault(number, []).append(code)
    for household, code, name, number, village in rows:
        others = "、".join(c for c in codes[number] if c != code)
        finder.add("head", f"twice:{number}:{household}", f"{name} 同时是 {code} 和 {others} 的户主：同一人同一时间"
                   f"只能是一户的户主，请核实后更换户主或归档重复的家庭户",
                   village=village, household=household, person_name=name, id_number=number)
    member = (Member.select(Member.id).where(Member.household == Household.id, Member.archived == False,  # noqa: E712
                                             Member.id_number == Household.head_id_number))
    for household, code, name, number, village in (
            Household.select(Household.id, Household.code, Household.head_name, Household.head_id_number,
                             Household.village).where(live, ~pw.fn.EXISTS(member)).tuples()):
        finder.add("head", f"not_member:{household}:{number}", f"{code} 的户主 {name} 不在本户成员中：请在家庭成员中"
                   f"登记户主本人（与户主关系：户主），或更正户主身份证号",
                   village=village, household=household, person_name=name, id_number=number)


def check_types(finder):
    """Cases whose type contradicts how the person is supported: 分散供养 under the 集中 type and the
    reverse (the type decides the standard paid and the account paid into)."""
    Case = finder.models["case"]
    labels = finder.models.registry.options["assistance_type"]
    form_of = support_forms(finder.models.registry)
    for code, form in form_of.items():
        query = Case.select(Case.id, Case.case_no, Case.applicant_name, Case.household, Case.village,
                            Case.support_form).where(Case.assistance_type == code, Case.support_form.is_null(False),
                                                     Case.support_form != form)
        if Case._spec.archive:
            query = query.where(Case.archived == False)  # noqa: E712
        for case_id, case_no, name, household, village, actual in query.tuples():
            other = next((c for c, f in form_of.items() if f == actual), None)
            if other is None:
                continue
            finder.add("type", f"case:{case_id}:{code}:{actual}",
                       f"事项 {case_no} 的救助类别为“{labels.label_of(code)}”，供养方式却是"
                       f"“{finder.models.registry.options['support_form'].label_of(actual)}”，"
                       f"应为“{labels.label_of(other)}”；请核实后更正救助类别或供养方式",
                       village=village, household=household, case=case_id, person_name=name)


def support_forms(registry):
    """{assistance type: the support form it stands for} (the `support_form` attribute in
    options/assistance_type.yaml; 民发〔2021〕43号: 集中供养 in an institution, 分散供养 at home)."""
    return {o.code: o.attrs["support_form"] for o in registry.options["assistance_type"].options
            if o.attrs.get("support_form")}

CHECKS = {"death": check_deaths, "duplicate": check_duplicates, "relative": check_relatives, "amount": check_amounts,
          "head": check_heads, "type": check_types}


def run(engine, kinds=None):
    """Run the checks; Counter of new findings per kind (every kind present, 0 when none)."""
    finder = Finder(engine)
    for kind in kinds or CHECKS:
        CHECKS[kind](finder)
    made = finder.write()
    return Counter({kind: made.get(kind, 0) for kind in kinds or CHECKS})


# -- the death list -------------------------------------------------------------------------------------

@dataclass
class DeathImport:
    problems: list = field(default_factory=list)
    added: int = 0
    known: int = 0
    found: int = 0

    @property
    def ok(self):
        return not self.problems


COLUMNS = {"身份证号": "id_number", "姓名": "name", "死亡日期": "death_date", "数据来源": "source"}


def import_deaths(engine, user, data, filename, source=None):
    """Read a death list (身份证号, 死亡日期; 姓名 and 数据来源 optional). Every line is checked first;
    one bad line and nothing is written. Then the death check runs at once."""
    outcome = DeathImport()
    try:
        sheet, header_row, header = tabular.find_table(data, filename, tabular.limits(engine.settings),
                                                       "身份证号", "第一行应为 身份证号、姓名、死亡日期")
    except tabular.FileRejected as e:
        outcome.problems.append(Problem("", 0, "", "", str(e)))
        return outcome
    if "死亡日期" not in header:
        outcome.problems.append(Problem(sheet.name, header_row + 1, "", "", "缺少列：死亡日期"))
        return outcome
    col = {h: header.index(h) for h in header if h in COLUMNS}
    today = _today(engine)
    lines, seen = [], {}
    for offset, row in enumerate(sheet.rows[header_row + 1:], start=header_row + 2):
        cells = list(row) + [""] * (len(header) - len(row))
        if not any(str(c).strip() for c in cells):
            continue
        value = {k: cells[i] for k, i in col.items()}

        def bad(column, message):
            outcome.problems.append(Problem(sheet.name, offset, column, value.get(column, ""), message))
        raw_id = str(value.get("身份证号") or "").strip().upper()
        try:
            id_number = idnumber.parse(raw_id)[0]
        except idnumber.IdNumberError as e:
            bad("身份证号", str(e))
            id_number = None
        died = types.read("date", value.get("死亡日期"))
        if died is None:
            bad("死亡日期", "死亡日期应写作 2026-05-01")
        elif died > today:
            bad("死亡日期", "死亡日期不能晚于今天")
        if id_number and id_number in seen:
            bad("身份证号", f"与第 {seen[id_number]} 行重复")
        elif id_number:
            seen[id_number] = offset
        name = str(value.get("姓名") or "").strip()
        if len(name) > 50:
            bad("姓名", "姓名不能超过50个字")
        lines.append((id_number, name or None, died, str(value.get("数据来源") or source or "").strip()[:60] or None))
    if outcome.problems:
        return outcome
    if not lines:
        outcome.problems.append(Problem(sheet.name, header_row + 2, "", "", "文件中没有数据行"))
        return outcome
    Death, Area = engine.models["death_record"], engine.models["area"]
    county = Area.select(Area.id).where(Area.level == "county").order_by(Area.id).scalar()
    token = system.actor.set(system.acting(user) if user else (None, "命令行", None))
    try:
        with engine.db.atomic():
            existing = set()
            ids = [line[0] for line in lines]
            for part in pw.chunked(ids, 500):
                existing |= {i for (i,) in Death.select(Death.id_number).where(Death.id_number.in_(part)).tuples()}
            for id_number, name, died, src in lines:
                if id_number in existing:
                    outcome.known += 1
                    continue
                Death(county=county, id_number=id_number, name=name, death_date=died, source=src).save()
                outcome.added += 1
            outcome.found = run(engine, ["death"])["death"]
    finally:
        system.actor.reset(token)
    return outcome



# -- working through the results ---------------------------------------------------------------------

def install(models):
    """The township (or village) writes only the verification: status and note; the rest is the
    check's (`immutable_after` in check_result.yaml). A verdict needs a note."""
    if "check_result" not in models.registry.entities:
        return

    @models.hooks.on("check_result", "before_save")
    def before(record, old):
        if old is None:
            return
        if record.status != "open" and not (record.handled_note or "").strip():
            raise RecordInvalid({"handled_note": "请写明核实情况（属实如何处理，不属实的理由）"})
        if record.status != old.get("status"):
            record.handled_on = clock.today() if record.status != "open" else None

