"""Benefit amounts: named calculators that workflow declarations refer to (`calculator:`).

Each returns a Breakdown: the standard, income, persons and result it used, and why the result is
what it is, so the case page can show the sum and a reviewer can check it against the policy:
低保 = (standard − household per-capita monthly income) × covered persons (差额救助);
特困 = basic living standard + care fee of the person's self-care level; 临时救助 = the decided sum.
"""
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .named import Named

CALCULATORS = Named()
calculator = CALCULATORS            # @calculator("name") registers a function
names = CALCULATORS.names


class NoStandard(Exception):
    """No standard is in force for the area, kind and month; the message says which is missing."""


@dataclass
class Breakdown:
    amount: Decimal | None
    lines: list = field(default_factory=list)     # (label, text)
    reason: str | None = None                     # why the amount is zero or missing

    def add(self, label, value):
        self.lines.append((label, value))


def yuan(value):
    return f"{Decimal(value):,.2f} 元"


class Context:
    """What a calculator may read: the case, its household, the month, the settings, the standards."""

    def __init__(self, engine, record, month=None):
        self.engine, self.models, self.record = engine, engine.models, record
        self.month = month or engine.flow.clock().strftime("%Y-%m")
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
        digits = self.setting("dibao_rounding_digits")
        if digits not in (0, 1, 2):
            raise NoStandard("设置“低保金保留的小数位数”只能是 0、1 或 2")
        return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP).quantize(Decimal("0.01"))


def standard_in_force(models, village, kind, month, hukou_type=None, care_level=None):
    """The standard row in force in `month` for a village: the nearest area's (village, township, county)
    latest one not after the month; None if there is none."""
    Standard, Area = models["standard"], models["area"]
    areas, current = [], village
    while current:
        areas.append(current)
        current = Area.select(Area.parent).where(Area.id == current).scalar()
    query = Standard.select().where(Standard.kind == kind, Standard.effective_month <= month,
                                    Standard.area.in_(areas))
    if hukou_type:
        query = query.where(Standard.hukou_type == hukou_type)
    if care_level:
        query = query.where(Standard.care_level == care_level)
    rows = list(query)
    if not rows:
        return None
    depth = {a: i for i, a in enumerate(areas)}          # the nearest area wins, then the latest month
    return min(rows, key=lambda r: (depth[r.__data__["area"]], _neg_month(r.effective_month)))


# the standard a payment of each assistance type is measured against (for the average standard in reports)
STANDARD_OF_TYPE = {"11": "dibao", "12": "dibao", "13": "dibao", "21": "tekun_basic", "22": "tekun_basic"}


def _neg_month(month):
    year, mon = month.split("-")
    return -(int(year) * 12 + int(mon))


def compute(engine, record, name, month=None):
    ctx = Context(engine, record, month)
    if ctx.household is None:
        return Breakdown(None, reason="事项没有申请家庭")
    try:
        return CALCULATORS[name](ctx)
    except NoStandard as e:
        return Breakdown(None, reason=str(e))


def _dibao(ctx, persons, persons_label):
    household = ctx.household
    hukou = household.hukou_type
    standard = ctx.standard("dibao", hukou_type=hukou)
    income = Decimal(household.income_per_capita or 0)
    out = Breakdown(None)
    out.add(f"保障标准（{ctx.month}）", f"{yuan(standard.amount)}/人·月" + ("（示例数据）" if standard.sample else ""))
    out.add("家庭人均月收入", yuan(income))
    out.add(persons_label, f"{persons} 人")
    gap = Decimal(standard.amount) - income
    if gap <= 0:
        out.amount = Decimal("0.00")
        out.reason = f"家庭人均月收入 {yuan(income)} 不低于保障标准 {yuan(standard.amount)}，不符合低保条件"
        out.add("测算结果", "0.00 元")
        return out
    raw = gap * persons
    amount = ctx.rounded(raw)
    minimum = Decimal(ctx.setting("dibao_min_payment") or 0)
    out.add("计算", f"（{standard.amount:.2f} − {income:.2f}）× {persons} = {raw:.2f} 元")
    if amount < minimum:
        out.add("最低发放额", yuan(minimum))
        amount = minimum.quantize(Decimal("0.01"))
    out.amount = amount
    out.add("测算结果（元/月）", yuan(amount))
    return out


@calculator("dibao")
def dibao(ctx):
    """差额救助: the whole household is covered."""
    return _dibao(ctx, ctx.household.member_count or 0, "保障人数（家庭人口）")


@calculator("dibao_single")
def dibao_single(ctx):
    """单人保: one person of the household is covered, at the household's per-capita income."""
    return _dibao(ctx, 1, "保障人数（单人保）")


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
    out.add("测算结果（元/月）", yuan(out.amount))
    return out


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
