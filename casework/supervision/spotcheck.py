"""Monthly spot checks (随机抽查, policy document 002): for each township, at least `spotcheck_percent`
of the cases approved that month (rounded up, at least one where there are any), drawn at random from
a stored seed so that anyone can redraw the same sample, and every near-relative case on top of that
share (not inside it).

A month's draw is kept: drawing again returns it unchanged unless the county administrator forces a
new draw, and then the old one stays, marked superseded."""
import datetime as dt
import math
import random
from dataclasses import dataclass

from casework.funds import care
from casework.core import scope
from schema import clock


class DrawRefused(Exception):
    """The message is shown to the user as is."""


@dataclass
class Drawn:
    township: str
    population: int
    sample: list            # case numbers
    seed: int
    share: float
    new: bool               # False: the existing draw of the month was returned


def population(models, township, month):
    """Cases of the township approved in the month, in id order (the order the seed draws from)."""
    Case, Area = models["case"], models["area"]
    start = dt.date(int(month[:4]), int(month[5:]), 1)
    end_month = care.next_month(month)
    end = dt.date(int(end_month[:4]), int(end_month[5:]), 1)
    villages = Area.select(Area.id).where(Area.parent == township.id)
    return list(Case.select().where(Case.village.in_(villages), Case.state == "approved",
                                    Case.decision_date >= start, Case.decision_date < end,
                                    Case.archived == False).order_by(Case.id))  # noqa: E712


def sample(cases, percent, seed):
    """(chosen cases, reasons): the random share (percent of the month's cases, rounded up, at least
    one) drawn with the seed from the cases that are not near relatives', and every near-relative
    case on top of it, not counted in it (document 002: they are all checked anyway)."""
    if not cases:
        return [], {}
    quota = max(1, math.ceil(len(cases) * percent / 100))
    near = [c for c in cases if c.near_relative]
    others = [c for c in cases if not c.near_relative]
    drawn = random.Random(seed).sample(others, min(len(others), quota))
    reasons = {c.id: "near_relative" for c in near}
    reasons.update({c.id: "random" for c in drawn})
    chosen = sorted(near + drawn, key=lambda c: c.id)
    return chosen, reasons


def draw(engine, user, month, seed=None, force=False):
    models = engine.models
    if user is None or scope.role_of(models, user) is None or scope.role_of(models, user).level != "county":
        raise DrawRefused("随机抽查由县级民政部门抽取")
    if force and user.role != "county_admin":
        raise DrawRefused("重新抽取须由县级管理员强制执行")
    if not (len(month or "") == 7 and month[4] == "-" and month[:4].isdigit() and month[5:].isdigit()
            and 1 <= int(month[5:]) <= 12):
        raise DrawRefused(f"月份应写作 2026-05，收到“{month}”")
    Check, Item, Area = models["spot_check"], models["spot_check_case"], models["area"]
    percent = engine.settings.get("spotcheck_percent")
    out = []
    with models.db.atomic():
        for township in scope.scoped(models, "area", user).where(Area.level == "township").order_by(Area.code):
            current = Check.get_or_none(Check.township == township.id, Check.month == month,
                                        Check.superseded == False)  # noqa: E712
            if current and not force:
                Case = models["case"]
                numbers = [n for (n,) in Case.select(Case.case_no).join(Item, on=(Item.case == Case.id))
                           .where(Item.spot_check == current.id).order_by(Case.id).tuples()]
                out.append(Drawn(township.name, current.population, numbers, current.seed,
                                 _share(current.sample_size, current.population), False))
                continue
            if current:
                current.superseded = True
                current.save()
            this_seed = seed if seed is not None else random.SystemRandom().randrange(1, 2**31)
            cases = population(models, township, month)
            chosen, reasons = sample(cases, percent, this_seed)
            check = Check(township=township.id, month=month, seed=this_seed, population=len(cases),
                          sample_size=len(chosen), drawn_by=user.full_name,
                          drawn_at=clock.now(), superseded=False)
            check.save()
            for c in chosen:
                Item(spot_check=check.id, case=c.id, reason=reasons[c.id]).save()
            out.append(Drawn(township.name, len(cases), [c.case_no for c in chosen], this_seed,
                             _share(len(chosen), len(cases)), True))
    return out


def _share(n, total):
    return n / total if total else 0.0
