"""Demo complaints, taken through the real rules (registered and assigned by the county, answered by
the township, closed by the county), dated back from today: one overdue, one replied, one closed,
one within its period and one not yet assigned."""
import datetime as dt

from schema import clock
from casework.core import system

# (township index, days ago: received, assigned, replied, closed; fields). None: not done yet.
PLANS = [
    (1, (75, 74, None, None), dict(channel="hotline", kind="report", complainant="李某", phone="13905632218",
                                   content="反映涧头村一户低保对象家中有人在外务工，收入未如实申报。")),
    (0, (30, 29, 5, None), dict(channel="letter", kind="report", anonymous=True,
                                content="匿名来信反映该低保户经营小卖部，家庭收入高于低保标准。"),
     "经入户核查，小卖部已于去年停业，家庭收入经核对低于当地低保标准。", "unfounded"),
    (0, (50, 49, 20, 10), dict(channel="visit", kind="complaint", complainant="王某", phone="06326612345",
                               content="来访反映申请临时救助后两个月未得到答复。"),
     "经核实，该申请因材料不全未及时一次性告知，已补办受理并作出救助决定。", "partly",
     "已电话答复反映人，并对经办人员进行提醒谈话。"),
    (0, (6, 5, None, None), dict(channel="online", kind="petition", complainant="赵某", phone="13605634421",
                                 content="网上信访反映家中老人瘫痪在床，询问能否申请特困供养。")),
    (None, (1, None, None, None), dict(channel="phone", kind="petition", complainant="孙某",
                                       content="来电反映村里公示的低保名单未张贴在公开栏。")),
]


def _weekday(today, days_ago):
    day = today - dt.timedelta(days=days_ago)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def demo_complaints(engine, today=None):
    """Create the demo complaints once; returns how many were made."""
    models = engine.models
    Complaint, User, Area = models["complaint"], models["user"], models["area"]
    if Complaint.select().exists():
        return 0
    users = {u.username: u for u in User.select()}
    towns = list(Area.select().where(Area.level == "township").order_by(Area.code))
    saved = clock.saved()
    today = today or clock.today()

    def act(username, day, fn):
        clock.set(day)
        token = system.actor.set((users[username].id, username, None))
        try:
            fn()
        finally:
            system.actor.reset(token)

    made = 0
    try:
        for n, (town, days, fields, *answer) in enumerate(PLANS):
            received, assigned, replied, closed = [None if d is None else _weekday(today, d) for d in days]
            record = Complaint(received_on=received, status="registered", **fields)
            if town is not None:
                record.township = towns[town].id
                record.case, record.household = _concerns(models, towns[town], n)
            act("county", received, record.save)
            made += 1
            if assigned:
                record.status = "assigned"
                act("county", assigned, record.save)
            if replied:
                record.reply, record.conclusion = answer[0], answer[1]
                act(f"town{town + 1}", replied, record.save)
            if closed:
                record.status, record.closing_note = "closed", answer[2]
                act("county", closed, record.save)
    finally:
        clock.set(saved)
    return made


def _concerns(models, town, n):
    """An approved case of the township (or its first household) that the n-th complaint is about."""
    Case, Household, Area = models["case"], models["household"], models["area"]
    villages = Area.select(Area.id).where(Area.parent == town.id)
    if n % 2 == 0:
        household = Household.select().where(Household.village.in_(villages)).order_by(Household.id).first()
        return None, household.id if household else None
    case = (Case.select().where(Case.village.in_(villages), Case.state == "approved").order_by(Case.id)
            .offset(n // 2).first() or Case.select().where(Case.village.in_(villages)).order_by(Case.id).first())
    return (case.id, case.__data__["household"]) if case else (None, None)
