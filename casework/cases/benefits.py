"""Benefit amounts: named calculators that workflow declarations refer to (`calculator:`).

Each returns a Breakdown: the standard, income, persons and result it used, and why the result is
what it is, so the case page can show the sum and a reviewer can check it against the policy:
低保 = (standard − household per-capita monthly income) × covered persons (差额救助);
单人保 = one member of a 低保边缘家庭 (57号 art. 8) as a household of one: standard − own income;
特困 = basic living standard + care fee of the person's self-care level; 临时救助 = the decided sum.
Sums are exact (fractions of a fen kept) and rounded once, at the end, by the rounding setting.
"""
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from casework.cases import household_check
from casework.core.named import Named
from casework.funds.standards import NoStandard, standard_in_force  # noqa: F401 (NoStandard: the calculators' refusal)
from schema import clock

CALCULATORS = Named()
calculator = CALCULATORS            # @calculator("name") registers a function
names = CALCULATORS.names


@dataclass
class Breakdown:
    amount: Decimal | None
    lines: list = field(default_factory=list)     # (label, text)
    reason: str | None = None                     # why the amount is zero or missing
    eligible: bool | None = None                  # False: the rules say the case does not qualify

    def add(self, label, value):
        self.lines.append((label, value))


def yuan(value):
    return f"{Decimal(value):,.2f} 元"


class Context:
    """What a calculator may read: the case, its household, the month, the settings, the standards."""

    def __init__(self, engine, record, month=None):
        self.engine, self.models, self.record = engine, engine.models, record
        self.month = month or clock.today().strftime("%Y-%m")
        Household = self.models["household"]
        self.household = Household.get_or_none(id=record.__data__.get("household"))

    def setting(self, key):
        return self.engine.settings.get(key)

    def standard(self, kind, hukou_type=None, care_level=None):
        """The standard in force this month where the household lives: its township's own if it has
        one, else the county's."""
        village = self.household.__data__.get("village") if self.household else None
        best = standard_in_force(self.models, village, kind, self.month, hukou_type, care_level)
        if best is None:
            labels = self.engine.registry.options
            what = labels["standard_kind"].label_of(kind)
            if hukou_type:
                what = f"{labels['hukou_type'].label_of(hukou_type)}{what}"
            if care_level:
                what += f"（{labels['self_care_level'].label_of(care_level)}）"
            raise NoStandard(f"{self.month} 没有适用的{what}，请县级管理员在“资金 → 保障标准”中登记")
        return best

    def rounded(self, amount):
        """The one rounding of a sum (a Fraction or Decimal), by the rounding setting."""
        digits = self.setting("dibao_rounding_digits")
        if digits not in (0, 1, 2):
            raise NoStandard("设置“低保金保留的小数位数”只能是 0、1 或 2")
        scaled = abs(Fraction(amount)) * 10 ** digits
        whole = int(scaled + Fraction(1, 2))                 # half up, away from zero
        whole = -whole if amount < 0 else whole
        return (Decimal(whole).scaleb(-digits)).quantize(Decimal("0.01"))

    def members(self):
        """The household's live members (removed ones are archived)."""
        Member = self.models["member"]
        query = Member.select().where(Member.household == self.household.id)
        if Member._spec.archive:
            query = query.where(Member.archived == False)  # noqa: E712
        return list(query.order_by(Member.id))

    def income(self, member=None):
        """(counted monthly income, persons, lines), exact: from the household's income items where it
        has any (items the setting exempts are listed, not counted), else from the members' monthly
        income; plus what support obligors pay each month (those with an exempting reason listed only);
        of one member only when `member` is given."""
        members = self.members()
        items = self.income_items()
        total, lines = self._item_income(members, items, member)
        paid, obligor_lines = self.obligor_income(member)
        if not obligor_lines:
            return total, len(members), lines
        if not items:
            shown = "本人月收入" if member is not None else "家庭成员月收入合计"
            lines.append((f"收入：{shown}", f"{money(total)} 元"))
        else:
            lines.pop()                                  # the items' subtotal: the total follows
        lines += obligor_lines
        if any(it.item == "alimony" for it in items):
            lines.append(("请核对", "收入明细中另有“赡养（扶养、抚养）费”：与义务人的给付是同一笔的，请删去其中一处，否则计入两次"))
        total += paid
        lines.append(("计入收入合计（元/月）", f"{money(total)} 元"))
        return total, len(members), lines

    def _item_income(self, members, items, member):
        if not items:
            chosen = [member] if member is not None else members
            return sum((Fraction(Decimal(m.monthly_income or 0)) for m in chosen), Fraction(0)), []
        exempt = _codes(self.setting("income_exempt_items"))
        options = self.engine.registry.options
        names = {m.id: m.name for m in members}
        total, lines = Fraction(0), []
        for it in items:
            owner = it.__data__.get("member")
            if member is not None and owner != member.id:
                continue
            label = (f"收入：{options['income_category'].label_of(it.category)}·{options['income_item'].label_of(it.item)}"
                     + (f"（{names[owner]}）" if owner in names else ""))
            if it.item in exempt:
                lines.append((label, f"{yuan(it.monthly_amount)}（不计入家庭收入）"))
                continue
            total += Fraction(Decimal(it.monthly_amount))
            lines.append((label, yuan(it.monthly_amount)))
        lines.append(("计入收入合计（元/月）", f"{money(total)} 元"))
        return total, lines

    def obligor_income(self, member=None):
        """(counted contributions, lines) of the household's support obligors (赡养、扶养、抚养义务人)."""
        exempt = _codes(self.setting("obligor_exempt_reasons"))
        options = self.engine.registry.options
        total, lines = Fraction(0), []
        for o, counted in household_check.obligors(self.models, self.household.id, exempt,
                                                   member.id if member is not None else None):
            label = f"赡养（扶养、抚养）费：{o.name}（{options['support_duty'].label_of(o.duty).split('（')[0]}）"
            if not counted:
                lines.append((label, f"{yuan(o.monthly_contribution or 0)}（不计入家庭收入："
                                     f"{options['support_exemption'].label_of(o.exemption)}）"))
                continue
            total += Fraction(Decimal(o.monthly_contribution or 0))
            lines.append((label, yuan(o.monthly_contribution or 0)))
        return total, lines

    def asset_refusals(self, out, standard, persons):
        """Lists the household's assets on the breakdown; the reasons it exceeds a limit (empty: none)."""
        found = household_check.assets(self.models, self.engine.registry, self.household.id)
        if not found.any:
            return []
        options = self.engine.registry.options
        for a, limit, counted in found.rows:
            text = yuan(a.value or 0) if a.value else "已登记"
            if a.exempt_reason:
                text += f"（不计入限额：{a.exempt_reason}）"
            elif limit is None:
                text += "（只登记，不设限额）"
            out.add(f"财产：{options['asset_kind'].label_of(a.kind)}", text)
        return [reason for _, reason in household_check.over_limits(found, self.engine.settings, standard.amount,
                                                                     persons)]

    def income_items(self):
        if "income_item" not in self.models.models:
            return []
        Item = self.models["income_item"]
        query = Item.select().where(Item.household == self.household.id)
        if Item._spec.archive:
            query = query.where(Item.archived == False)  # noqa: E712
        return list(query.order_by(Item.id))


def compute(engine, record, name, month=None):
    ctx = Context(engine, record, month)
    if ctx.household is None:
        return Breakdown(None, reason="事项没有申请家庭")
    try:
        return CALCULATORS[name](ctx)
    except NoStandard as e:
        return Breakdown(None, reason=str(e))


def money(value):
    """A sum for display: exact when it has at most two decimals, else to the fen with 约."""
    exact = Fraction(value)
    shown = Decimal(exact.numerator) / Decimal(exact.denominator)
    fen = shown.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{fen:.2f}" if Fraction(fen) == exact else f"约{fen:.2f}"


def _standard_line(out, ctx, standard):
    out.add(f"保障标准（{ctx.month}）", f"{yuan(standard.amount)}/人·月" + ("（示例数据）" if standard.sample else ""))


def _dibao_standard(ctx):
    """The 低保 standard of the case's own type (城市 11 / 农村 12), else of the household's hukou."""
    hukou = ctx.engine.registry.option_attr("assistance_type", str(ctx.record.assistance_type), "hukou") \
        or ctx.household.hukou_type
    return ctx.standard("dibao", hukou_type=hukou)


def _finish(ctx, out, raw, shown):
    amount = ctx.rounded(raw)
    minimum = Decimal(ctx.setting("dibao_min_payment") or 0)
    out.add("计算", f"{shown} = {money(raw)} 元")
    if amount < minimum:
        out.add("最低发放额", yuan(minimum))
        amount = minimum.quantize(Decimal("0.01"))
    out.amount = amount
    out.eligible = True
    out.add("测算结果（元/月）", yuan(amount))
    return out


def _not_eligible(out, reason):
    out.amount, out.reason, out.eligible = Decimal("0.00"), reason, False
    out.add("测算结果", "0.00 元")
    return out


@calculator("dibao")
def dibao(ctx):
    """差额救助: the whole household is covered; (standard − total income ÷ persons) × persons."""
    standard = _dibao_standard(ctx)
    total, persons, lines = ctx.income()
    out = Breakdown(None)
    _standard_line(out, ctx, standard)
    out.lines += lines
    per_capita = total / persons if persons else Fraction(0)
    out.add("家庭人均月收入", f"{money(per_capita)} 元")
    out.add("保障人数（家庭人口）", f"{persons} 人")
    level = Fraction(Decimal(standard.amount))
    over = ctx.asset_refusals(out, standard, persons)
    if over:
        return _not_eligible(out, "；".join(over) + "，不符合低保条件")
    if per_capita >= level:
        return _not_eligible(out, f"家庭人均月收入 {money(per_capita)} 元不低于保障标准 {yuan(standard.amount)}，"
                                  f"不符合低保条件")
    shown_income = money(per_capita) if not money(per_capita).startswith("约") else f"{money(total)}÷{persons}"
    return _finish(ctx, out, (level - per_capita) * persons,
                   f"（{Decimal(standard.amount):.2f} − {shown_income}）× {persons}")


@calculator("dibao_single")
def dibao_single(ctx):
    """单人保 (57号 art. 8): a member with a severe disability or a serious illness in a 低保边缘家庭
    (per-capita income at or above the standard but below the edge multiple of it) is covered alone,
    as a household of one: standard − the member's own monthly income."""
    household = ctx.household
    standard = ctx.standard("dibao", hukou_type=household.hukou_type)
    total, persons, lines = ctx.income()
    out = Breakdown(None)
    _standard_line(out, ctx, standard)
    out.lines += lines
    per_capita = total / persons if persons else Fraction(0)
    level = Fraction(Decimal(standard.amount))
    multiple = Fraction(Decimal(ctx.setting("edge_family_multiple")))
    edge = level * multiple
    out.add("家庭人均月收入", f"{money(per_capita)} 元")
    out.add("低保边缘标准", f"{money(edge)} 元（保障标准的 {Decimal(ctx.setting('edge_family_multiple')).normalize()} 倍）")
    if per_capita < level:
        return _not_eligible(out, f"家庭人均月收入 {money(per_capita)} 元低于保障标准 {yuan(standard.amount)}，"
                                  f"全户符合低保条件，请按城市或农村低保整户申请，不适用单人保")
    if per_capita >= edge:
        return _not_eligible(out, f"家庭人均月收入 {money(per_capita)} 元不低于低保边缘标准 {money(edge)} 元，"
                                  f"不是低保边缘家庭，不符合单人保条件")
    over = ctx.asset_refusals(out, standard, persons)
    if over:                            # a 低保边缘家庭's property must be within the rules too (57号 art. 8)
        return _not_eligible(out, "；".join(over) + "，不是低保边缘家庭，不符合单人保条件")
    person = next((m for m in ctx.members() if m.id_number == ctx.record.applicant_id_number), None)
    if person is None:
        return _not_eligible(out, "单人保的申请人须是本户登记的家庭成员（按申请人身份证号在本户未找到）")
    why = single_cover_ground(ctx, person)
    if why is None:
        return _not_eligible(out, f"{person.name}不是一级、二级残疾或三级智力、精神残疾，也未登记患重特大疾病，"
                                  f"不符合单人保条件")
    out.add("单人保对象", f"{person.name}（{why}）")
    own = ctx.income(member=person)[0]
    out.add("本人月收入", f"{money(own)} 元")
    out.add("保障人数（单人保）", "1 人")
    if own >= level:
        return _not_eligible(out, f"{person.name}本人月收入 {money(own)} 元不低于保障标准 {yuan(standard.amount)}")
    return _finish(ctx, out, level - own, f"{Decimal(standard.amount):.2f} − {money(own)}")


def single_cover_ground(ctx, member):
    """Why a member may be covered alone (57号 art. 8), or None: a disability of a grade listed in a
    setting (any class), a class listed for grade three, or a recorded serious illness."""
    grades = _codes(ctx.setting("single_cover_disability_grades"))
    grade3 = _codes(ctx.setting("single_cover_grade3_classes"))
    options = ctx.engine.registry.options
    grade, cls = str(member.disability_grade or ""), str(member.disability_class or "")
    if grade and (grade in grades or (grade == "3" and cls in grade3)):
        label = options["disability_class"].label_of(cls) if cls else "残疾"
        return f"{options['disability_grade'].label_of(grade)}{label}"
    if getattr(member, "serious_illness", False):
        return "患重特大疾病"
    return None


_codes = household_check.codes


@calculator("tekun")
def tekun(ctx):
    record, household = ctx.record, ctx.household
    level = record.self_care_level
    out = Breakdown(None)
    if not level:
        out.reason = "尚未完成生活自理能力评估，无法测算照料护理费"
        return out
    basic = ctx.standard("tekun_basic", hukou_type=household.hukou_type)
    care = ctx.standard("care", care_level=level)
    labels = ctx.engine.registry.options["self_care_level"]
    out.add(f"基本生活标准（{ctx.month}）", yuan(basic.amount) + ("（示例数据）" if basic.sample else ""))
    out.add(f"照料护理标准：{labels.label_of(level)}", yuan(care.amount))
    out.amount = (Decimal(basic.amount) + Decimal(care.amount)).quantize(Decimal("0.01"))
    able = tekun_obligors(ctx, out)
    if able:
        return _not_eligible(out, f"{'、'.join(able)}是有履行能力的义务人（未登记设置所列的免计理由），不符合特困人员"
                                  f"“无法定赡养、抚养、扶养义务人，或者其法定义务人无履行义务能力”的条件"
                                  f"（民发〔2021〕43号第四条）")
    out.add("测算结果（元/月）", yuan(out.amount))
    return out


def tekun_obligors(ctx, out):
    """Names of the applicant's support obligors able to support (特困 needs none, 43号 art. 4): those
    not marked unable and without an exempting reason; obligors of another member do not count."""
    exempt = _codes(ctx.setting("obligor_exempt_reasons"))
    person = next((m for m in ctx.members() if m.id_number == ctx.record.applicant_id_number), None)
    options = ctx.engine.registry.options
    able = []
    for o, counted in household_check.obligors(ctx.models, ctx.household.id, exempt):
        supported = o.__data__.get("supported")
        if supported is not None and (person is None or supported != person.id):
            continue
        shown = options["support_ability"].label_of(o.ability)
        if not counted:
            shown += f"（{options['support_exemption'].label_of(o.exemption)}）"
        out.add(f"义务人：{o.name}", shown)
        if counted and o.ability != "unable":
            able.append(o.name)
    return able


@calculator("decided")
def decided(ctx):
    """临时救助: the sum decided for this case (what was asked for until then)."""
    record = ctx.record
    out = Breakdown(None)
    for label, value in (("申请金额", record.requested_amount), ("拟救助金额", record.proposed_amount),
                         ("批准金额", record.decided_amount)):
        if value is not None:
            out.add(label, yuan(value))
            out.amount = Decimal(value)
    if out.amount is None:
        out.reason = "尚未填写申请金额"
    return out
