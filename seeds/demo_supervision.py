"""Demo supervision data: last month's village reports (most villages reported, some by zero report,
one village missing, one late)."""
import datetime as dt

from casework.core import system
from casework.supervision import village_reports
from casework.funds.care import previous_month
from schema import clock


def demo_village_reports(engine, today=None):
    models = engine.models
    if "village_report" not in models.registry.entities:
        return 0
    Report, Area = models["village_report"], models["area"]
    if Report.select().exists():
        return 0
    today = today or clock.today()
    month = previous_month(today.strftime("%Y-%m"))
    villages = list(Area.select().where(Area.level == "village").order_by(Area.code))
    made = 0
    token = system.actor.set((None, "演示数据", None))
    try:
        for i, village in enumerate(villages[:-1]):            # the last village has not reported
            changes, cases = village_reports.changes_in(models, village.id, month)
            changed = bool(changes or cases) or i % 4 == 3
            report = Report(village=village.id, month=month, kind="changes" if changed else "zero",
                            visited=8 + i % 5, content=(f"本月花名册变更 {changes} 条、新申请 {cases} 件；"
                                                        "另有一户家庭成员外出务工，已告知按时申报收入。")
                            if changed else None)
            report.save()
            made += 1
    finally:
        system.actor.reset(token)
    return made


def demo_checks(engine, today=None):
    """Planted findings for the data checks: a death among people in care, a cadre's relative in care,
    a household whose income rose after approval; then the checks run once."""
    from casework.supervision import checks
    from schema import idnumber
    models = engine.models
    if "check_result" not in models.registry.entities or models["cadre"].select().exists():
        return 0
    today = today or clock.today()
    Care, Member, Area = models["care"], models["member"], models["area"]
    in_care = list(Care.select().where(Care.status == "in_care", Care.case.is_null()).order_by(Care.id).limit(3))
    if len(in_care) < 3:
        return 0
    token = system.actor.set((None, "演示数据", None))
    try:
        county = Area.get(Area.level == "county")
        oldest = (Member.select().where(Member.household == in_care[0].__data__["household"])
                  .order_by(Member.birth_date).first())
        models["death_record"].create(county=county.id, id_number=oldest.id_number, name=oldest.name,
                                      death_date=today - dt.timedelta(days=20), source="县殡葬管理所（演示）")
        relative = Member.select().where(Member.household == in_care[1].__data__["household"]).first()
        village = Area.get_by_id(in_care[1].__data__["village"])
        cadre = models["cadre"].create(area=village.id, name="周建国", position="village_cadre", post="村委会主任",
                                       id_number=idnumber.make("370405", dt.date(1968, 3, 12), 531))
        models["cadre_relative"].create(cadre=cadre.id, name=relative.name, id_number=relative.id_number,
                                        relation="sibling")
        earner = Member.select().where(Member.household == in_care[2].__data__["household"]).first()
        earner.monthly_income = (earner.monthly_income or 0) + 300      # found work after approval
        earner.save()
    finally:
        system.actor.reset(token)
    return sum(checks.run(engine).values())


def demo_reviews(engine):
    """Periodic reviews of overdue households in the first township: one being investigated, one decided
    (amount adjusted, notice not yet served), one closed after the notice was served."""
    from casework.cases import reviews
    models = engine.models
    Case, User = models["case"], models["user"]
    if Case.select().where(Case.purpose == "review").exists():
        return 0
    staff, leader = User.get_or_none(username="town1"), User.get_or_none(username="leader1")
    if staff is None or leader is None:
        return 0
    due = [r for r in reviews.due(engine, staff) if r["overdue_days"] and r["assistance_type"] in ("11", "12")][:3]
    flow, today = engine.flow, clock.today()
    for i, row in enumerate(due):
        case = reviews.open_review(engine, staff, row["id"])
        flow.perform(case.id, "start_investigation", staff, {}, opinion="到期复核，安排入户")
        if i == 0:
            continue
        flow.perform(case.id, "record_home_visit", staff, {
            "home_visit_date": today.isoformat(), "investigator_1": "王磊", "investigator_2": "孙娜",
            "home_visit_record": "入户查看：家庭人口无变化；一名成员在镇上务工，月收入约1500元"}, opinion=None)
        flow.perform(case.id, "finish_investigation", staff, {
            "verification_record": "经济状况核对：工资性收入增加", "verification_result": "pass"}, opinion="核对完毕")
        care_row = models["care"].get_by_id(row["id"])
        flow.perform(case.id, "adjust", leader, {
            "decided_amount": str(max(100, int(care_row.monthly_amount) - 200)),
            "review_reason": "家庭成员务工收入增加，人均收入提高"}, opinion="同意调减")
        if i == 2:
            flow.perform(case.id, "serve_notice", staff, {"notice_served_on": today.isoformat()}, opinion=None)
    return len(due)
