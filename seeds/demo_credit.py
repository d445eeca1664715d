"""One dishonesty record for the demo county: a 涧头集镇 household in care that hid a son's wages,
listed three weeks ago (its aid stops from next month), a third of the money repaid since."""
import datetime as dt
from decimal import Decimal
from schema import clock

MONTHS_OBTAINED = 6         # months of aid obtained by the false statement
MONTHS_REPAID = 2


def demo_credit(engine, today=None):
    models = engine.models
    Record, Repayment = models["dishonesty"], models["recovery"]
    if Record.select().exists():
        return 0
    today = today or clock.today()
    Care, Area, Household = models["care"], models["area"], models["household"]
    town = Area.get_or_none(Area.code == "370405101")
    if town is None:
        return 0
    # the township other than 运河街道, whose first rows other tests and the village user work on
    care = (Care.select().where(Care.village.in_(Area.select(Area.id).where(Area.parent == town.id)),
                                Care.status == "in_care", Care.assistance_type.in_(["11", "12"]))
            .order_by(Care.id.desc()).first())
    if care is None:
        return 0
    household = Household.get_by_id(care.__data__["household"])
    monthly = Decimal(care.monthly_amount)
    record = Record(household=household.id, name=household.head_name, id_number=household.head_id_number,
                    case=care.__data__.get("case"), found_on=today - dt.timedelta(days=21),
                    facts="申请时隐瞒儿子在外务工收入（每月约3000元），申报家庭无劳动收入；"
                          "经济状况复核时社保缴费记录显示其连续缴费，经入户核实属实。（演示数据）",
                    amount_due=monthly * MONTHS_OBTAINED)
    record.save()
    Repayment(dishonesty=record.id, paid_on=today - dt.timedelta(days=7), amount=monthly * MONTHS_REPAID,
              receipt_no="非税票据 0012345", note="本人到乡镇民政办缴回（演示数据）").save()
    return 1
