"""Village monthly reports (村级月报, 零报告): one per village and month, a zero report only where the
roster shows no change that month, and the list of villages that have not reported."""
import datetime as dt
import re

from schema import clock, RecordInvalid

from casework.core import scope, system
from casework.funds.care import next_month

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def due_date(settings, month):
    """The last day to report a month: the setting's day of the next month."""
    following = next_month(month)
    return dt.date(int(following[:4]), int(following[5:7]), settings.get("village_report_day"))


def changes_in(models, village, month):
    """Roster changes of the village taking effect that month, and new applications made in it."""
    Change, Care, Case = models["care_change"], models["care"], models["case"]
    changes = (Change.select().join(Care, on=(Change.care == Care.id))
               .where(Care.village == village, Change.effective_month == month).count())
    first = dt.date(int(month[:4]), int(month[5:7]), 1)
    last = due_date(models.settings, month).replace(day=1) - dt.timedelta(days=1)
    cases = Case.select().where(Case.village == village, Case.apply_date.between(first, last)).count()
    return changes, cases


def install(models):
    if "village_report" not in models.registry.entities:
        return
    Report = models["village_report"]

    @models.hooks.on("village_report", "before_save")
    def before(record, old):
        village, month = record.__data__.get("village"), record.month
        if not village or not month:
            return                               # required fields: the form says so
        today = clock.today()
        if month > today.strftime("%Y-%m"):
            raise RecordInvalid({"month": "不能报送还没到的月份"})
        twin = Report.select().where(Report.village == village, Report.month == month)
        if old is not None:
            twin = twin.where(Report.id != record.id)
        if twin.exists():
            raise RecordInvalid({"month": f"本村 {month} 的月报已经报送，请修改那一份，不要重复报送"})
        if record.kind == "zero" and month >= today.strftime("%Y-%m"):
            raise RecordInvalid({"kind": f"{month} 还没有结束，零报告在月末之后报送（本月有情况的可先报“有变化”）"})
        if record.kind == "zero":
            changes, cases = changes_in(models, village, month)
            if changes or cases:
                raise RecordInvalid({"kind": f"系统中本村 {month} 有 {changes} 条花名册变更、{cases} 件新申请，"
                                             f"不能报零报告，请选择“有变化”并写明情况"})
        elif not (record.content or "").strip():
            raise RecordInvalid({"content": "有变化的月报须写明变化情况"})
        if old is None:
            who = system.actor.get()
            user = models["user"].get_or_none(id=who[0]) if who and who[0] else None
            record.reported_by = user.full_name if user else (who[1] if who and who[1] else "系统")
            record.reported_on = today
            record.late = today > due_date(models.settings, month)


def status(engine, user, month):
    """[(village, report or None)] for the villages in the user's scope, the missing ones first."""
    models = engine.models
    Area, Report = models["area"], models["village_report"]
    villages = list(scope.scoped(models, "area", user).where(Area.level == "village").order_by(Area.code))
    reports = {r.__data__["village"]: r for r in scope.scoped(models, "village_report", user)
               .where(Report.month == month)}
    rows = [(v, reports.get(v.id)) for v in villages]
    return sorted(rows, key=lambda row: row[1] is not None)


def submit(engine, user, village_id, month, kind, visited=None, content=None):
    """A village's report for a month, from the report screen; RecordInvalid says what is wrong."""
    models = engine.models
    Area, Report = models["area"], models["village_report"]
    if not scope.can(models, user, "village_report", "create"):
        raise RecordInvalid({"village": "您的角色不能报送村级月报"})
    village = scope.scoped(models, "area", user).where(Area.id == village_id, Area.level == "village").first()
    if village is None:
        raise RecordInvalid({"village": "找不到该村（社区），或它不在您的管辖区划内"})
    if not MONTH.match(month or ""):
        raise RecordInvalid({"month": f"报告月份应写作 2026-05，收到“{month}”"})
    kinds = models.registry.options[Report._spec.field("kind").options]
    if kinds.code_of(kind or "") is None:
        raise RecordInvalid({"kind": f"月报类别应为{'、'.join(o.label for o in kinds.options)}之一，收到“{kind or ''}”"})
    kind = kinds.code_of(kind)
    if visited not in (None, "") and not str(visited).isdigit():
        raise RecordInvalid({"visited": "走访户数应为整数"})
    token = system.actor.set(system.acting(user))
    try:
        report = Report(village=village.id, month=month, kind=kind,
                        visited=int(visited) if visited not in (None, "") else None, content=content or None)
        report.save()
    finally:
        system.actor.reset(token)
    return report
