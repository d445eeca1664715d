"""The household economic check in the demo county (涧头集镇, so the 运河街道 rows other tests read stay
as they were): a 低保 case under investigation with its household's assets, a son paying support
each month, a daughter who is herself a 低保 recipient (listed, not counted), and the answers of
some of the 18 departments (one with a finding); a second household owns a car, over the limit."""
import datetime as dt
from decimal import Decimal

from schema import clock

DEPARTMENTS = [("02", "normal", "户籍与申报一致，名下无机动车辆"), ("03", "normal", "无婚姻、殡葬异常"),
               ("06", "normal", "无社会保险缴费记录"), ("07", "abnormal", "户主名下登记住房一套（即现住房）"),
               ("15", "normal", "银行结算账户与申报一致"), ("16", "normal", "无纳税记录"),
               ("08", "pending", "")]


def demo_household_check(engine, today=None):
    models = engine.models
    if "department_check" not in models.models or models["department_check"].select().exists():
        return 0
    today = today or clock.today()
    Case, Area, Household, Member = models["case"], models["area"], models["household"], models["member"]
    town = Area.get_or_none(Area.code == "370405101")
    if town is None:
        return 0
    villages = Area.select(Area.id).where(Area.parent == town.id)
    case = (Case.select().where(Case.village.in_(villages), Case.state == "investigating",
                                Case.assistance_type.in_(["11", "12"]))
            .order_by(Case.id).first())
    if case is None:
        return 0
    household = Household.get_by_id(case.__data__["household"])
    head = Member.select().where(Member.household == household.id).order_by(Member.id).first()
    Asset, Obligor, Check = models["household_asset"], models["support_obligor"], models["department_check"]
    Asset(household=household.id, member=head.id if head else None, kind="house", value=Decimal("60000"),
          exempt_reason="", basis="不动产登记信息（演示数据）").save()
    Asset(household=household.id, member=head.id if head else None, kind="deposit", value=Decimal("3200"),
          basis="银行查询结果（演示数据）").save()
    Obligor(household=household.id, supported=head.id if head else None, name="外出务工的儿子（演示）",
            duty="elder", relation="20", ability="able", monthly_contribution=Decimal("200")).save()
    Obligor(household=household.id, supported=head.id if head else None, name="出嫁的女儿（演示）",
            duty="elder", relation="30", ability="unable", monthly_contribution=Decimal("100"),
            exemption="dibao", exemption_note="本人为外县低保对象（演示数据）").save()
    for i, (department, result, detail) in enumerate(DEPARTMENTS):
        Check(case=case.id, department=department, result=result, detail=detail,
              checked_on=None if result == "pending" else today - dt.timedelta(days=len(DEPARTMENTS) - i)).save()
    other = (Household.select().where(Household.village.in_(villages), Household.status == "none",
                                      Household.id != household.id)
             .order_by(Household.id.desc()).first())
    if other is not None:
        Asset(household=other.id, kind="vehicle", value=Decimal("45000"),
              basis="公安机关车辆登记信息：小型轿车一辆（演示数据）").save()
    return 1
