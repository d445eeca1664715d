"""Demo cases in every state of every case type, some overdue, taken through the real workflow
engine (each step signed by the demo user whose role may take it), dated over the last weeks."""
import datetime as dt
import random
from decimal import Decimal

from schema import clock
from casework.cases import benefits
from casework.supervision import checks
from casework.core import system

# (type, steps to take, calendar days since the last step): a long idle time makes an overdue case
PLANS = [
    ("12", [], 1), ("12", [], 16),                                             # accepted; one overdue
    ("11", ["start_investigation"], 3), ("12", ["start_investigation", "record_home_visit"], 12),
    ("12", ["start_investigation", "record_home_visit", "finish_investigation"], 2),
    ("13", ["start_investigation", "record_home_visit", "finish_investigation", "propose"], 0),
    ("12", ["start_investigation", "record_home_visit", "finish_investigation", "propose", "object"], 16),
    ("12", ["start_investigation", "record_home_visit", "finish_investigation", "propose", "approve"], 30),
    ("11", ["start_investigation", "record_home_visit", "finish_investigation", "propose", "approve"], 45),
    ("12", ["start_investigation", "record_home_visit", "finish_investigation", "propose", "object",
            "approve_after_evaluation"], 50),
    ("12", ["start_investigation", "record_home_visit", "fail_verification"], 28),
    ("12", ["start_investigation", "record_home_visit", "finish_investigation", "deny"], 33),
    ("12", ["withdraw"], 12),
    ("21", ["start_investigation", "record_home_visit", "finish_investigation", "assess_self_care"], 1),
    ("21", ["start_investigation", "record_home_visit", "finish_investigation", "assess_self_care", "propose",
            "approve"], 40),
    ("32", ["start_investigation", "record_home_visit", "finish_investigation"], 2),
    ("32", ["start_investigation", "record_home_visit", "finish_investigation", "to_county"], 20),
    ("32", ["start_investigation", "record_home_visit", "finish_investigation", "approve"], 26),
    ("31", [], 1), ("31", ["complete", "approve"], 18),
    ("51", [], 1), ("53", ["refer"], 5), ("52", ["refer", "feedback"], 40),
]

# who takes each step, by township index (0: 运河街道, 1: 涧头集镇)
ACTORS = {"town": ["town1", "town2"], "leader": ["leader1", "leader2"], "county": ["county", "county"]}
STEP_ACTOR = {"record_home_visit": "village", "approve": "leader", "approve_after_evaluation": "leader",
              "deny": "leader", "county_approve": "county", "county_visit": "county", "object": "village"}


HUKOU_OF_TYPE = {"11": "1", "12": "2"}


def _edge_family(engine, pool, today):
    """(household, member) for a 单人保 demo: a household with a member who may be covered alone
    (57号 art. 8), its other members' income set so that it is a 低保边缘家庭 (per capita 1.2 × the
    standard: above it, below the edge multiple)."""
    models = engine.models
    Member = models["member"]
    ctx = _Ctx(engine)
    for household in pool:
        members = list(Member.select().where(Member.household == household.id).order_by(Member.id))
        person = next((m for m in members if benefits.single_cover_ground(ctx, m)), None)
        others = [m for m in members if m is not person]
        if person is None or not others:
            continue
        standard = benefits.standard_in_force(models, household.village_id, "dibao", today.strftime("%Y-%m"),
                                              household.hukou_type)
        if standard is None:
            continue
        target = Decimal(standard.amount) * Decimal("1.2") * len(members)
        person.monthly_income = 0
        person.save()
        for m in others:
            m.monthly_income = (target / len(others)).quantize(Decimal("0.01"))
            m.save()
        return models["household"].get_by_id(household.id), person
    return pool[0], None


class _Ctx:
    """The settings and option labels benefits.single_cover_ground reads."""

    def __init__(self, engine):
        self.engine = engine

    def setting(self, key):
        return self.engine.settings.get(key)


def _next_weekday(day, gap):
    day += dt.timedelta(days=gap)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _form(action, rng, day, amount):
    return {
        "record_home_visit": {"home_visit_date": day.isoformat(), "investigator_1": "张明", "investigator_2": "李红",
                              "home_visit_record": "入户查看住房、家庭成员和收入情况，与申报一致。"},
        "finish_investigation": {"verification_record": "经济状况核对：车辆、房产、工商、社保、公积金均无异常。",
                                 "verification_result": "pass", "proposed_amount": str(amount)},
        "fail_verification": {"verification_record": "核对发现名下有营运车辆一辆。",
                              "denial_reason": "家庭拥有营运车辆，经济状况不符合条件。"},
        "propose": {"proposed_amount": str(amount)},
        "approve": {"decided_amount": str(amount)},
        "object": {"objection": "有村民反映申请人子女在外务工，收入未如实申报。"},
        "approve_after_evaluation": {"evaluation_record": "民主评议小组9人参加，8人认为符合条件。",
                                     "decided_amount": str(amount)},
        "deny": {"denial_reason": "家庭人均收入高于当地低保标准。"},
        "assess_self_care": {"care_eat": "yes", "care_dress": "yes", "care_bed": "no", "care_toilet": "no",
                             "care_walk": "yes", "care_bathe": "no", "support_form": "home"},   # 21 分散供养; set by type below
        "to_county": {"proposed_amount": str(amount)},
        "complete": {"verification_record": "事后补办：核对无异常。", "proposed_amount": str(amount)},
        "refer": {"referred_to": "housing"},
        "feedback": {"feedback_date": day.isoformat(), "referral_feedback": "住建局已受理危房改造申请。"},
    }.get(action, {})


def demo_cases(engine, households_by_town, today=None):
    """Create the demo cases once; returns how many were made."""
    models, flow = engine.models, engine.flow
    Case, User = models["case"], models["user"]
    if Case.select().exists():
        return 0
    saved = clock.saved()
    today = today or clock.today()
    rng = random.Random(2020)
    users = {u.username: u for u in User.select()}
    made = 0
    try:
        for n, (type_code, actions, days_ago) in enumerate(PLANS * 2):
            town = n % 2
            pool = households_by_town[town]
            applicant = None
            if type_code == "13":                 # 单人保: a disabled or seriously ill member of an edge family
                household, applicant = _edge_family(engine, pool, today)
            else:
                if type_code in ("11", "12"):     # the type follows the household: 城市 for 城镇 hukou, 农村 for 农村
                    pool = [h for h in pool if h.hukou_type == HUKOU_OF_TYPE[type_code]] or pool
                if type_code in ("11", "12", "21", "22"):      # 低保 and 特困 go to households below the standard
                    pool = [h for h in pool if (h.income_per_capita or 0) < 500] or pool
                household = rng.choice(pool)
            gaps = [engine.settings.get("notice_days") + 1 if a == "approve" and type_code not in ("31", "32")
                    else rng.choice([1, 1, 2, 3]) for a in actions]
            idle = days_ago + (n // len(PLANS)) * 2
            slack = (sum(gaps) * 2) // 5 + 1          # weekends the steps will skip
            day = _next_weekday(today - dt.timedelta(days=idle + sum(gaps) + slack), 0)
            clock.set(day)
            amount = 3600 if "to_county" in actions else rng.choice([300, 420, 560, 680, 800, 1500])
            clerk = users[ACTORS["town"][town]]
            token = system.actor.set((clerk.id, clerk.username, None))
            try:
                extra = {"aid_date": day - dt.timedelta(days=1), "aid_given": "1500"} if type_code == "31" else {}
                record = Case(household=household.id, assistance_type=type_code,
                              applicant_name=applicant.name if applicant else household.head_name,
                              applicant_id_number=applicant.id_number if applicant else household.head_id_number,
                              apply_date=day,
                              channel=rng.choice(["window", "window", "village", "online"]),
                              hardship_reason=rng.choice(["01", "02", "05", "09"]),
                              requested_amount="3600" if type_code == "32" else None,
                              materials="id_card,hukou_book,hardship_statement,verification_auth,pledge",
                              near_relative=False, **extra)
                record.save()
                made += 1
                for action, gap in zip(actions, gaps):
                    nxt = _next_weekday(day, gap)
                    if action == "approve" and type_code not in ("31", "32"):     # after the notice has ended
                        notice_end = Case.get_by_id(record.id).notice_end
                        if notice_end and nxt <= notice_end:
                            nxt = _next_weekday(notice_end, 1)
                    if nxt > today:
                        break
                    day = nxt
                    clock.set(day)
                    who = STEP_ACTOR.get(action, "town")
                    if who == "village":      # the village's assistant where it has one, else the township
                        assistant = users.get("village1")
                        who = "town" if assistant is None or assistant.area_id != household.village_id else None
                        actor = assistant if who is None else users[ACTORS["town"][town]]
                    else:
                        actor = users[ACTORS[who][town]]
                    if action in ("finish_investigation", "propose", "approve", "approve_after_evaluation") \
                            and type_code in ("11", "12", "13", "21", "22"):
                        computed = flow.breakdown(Case.get_by_id(record.id))
                        if computed and computed.amount:
                            amount = computed.amount
                    form = _form(action, rng, day, amount)
                    if action == "assess_self_care":      # the type says how the person is supported
                        form["support_form"] = checks.support_forms(engine.registry)[type_code]
                    flow.perform(record.id, action, actor, form,
                                 opinion="同意" if action not in ("deny", "fail_verification", "withdraw")
                                 else "不符合条件" if action != "withdraw" else "申请人自愿撤回")
            finally:
                system.actor.reset(token)
    finally:
        clock.set(saved)
    # the deadlines of unfinished cases as of today
    flow.refresh_all()
    return made
