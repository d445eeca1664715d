"""The home page's figures, within the user's scope: who is in care by type, this month's new and
exited, the month's payment status and the last twelve months of payments."""
import peewee as pw

from casework.funds import care
from casework.core import scope
from schema import clock


def summary(engine, user):
    models, registry = engine.models, engine.registry
    if "care" not in registry.entities or not scope.can(models, user, "care", "view"):
        return None
    Care, Change, Payment = models["care"], models["care_change"], models["payment"]
    month = clock.today().strftime("%Y-%m")
    labels = registry.options["assistance_type"].labels
    in_care = (scope.scoped(models, "care", user)
               .where(Care.status == "in_care", Care.start_month <= month)
               .select(Care.assistance_type, pw.fn.COUNT(Care.id), pw.fn.SUM(Care.persons))
               .group_by(Care.assistance_type).order_by(Care.assistance_type).tuples())
    by_type = [(labels.get(t, t), n, int(p or 0)) for t, n, p in in_care]
    changes = dict(scope.scoped(models, "care_change", user).where(Change.effective_month == month)
                   .select(Change.kind, pw.fn.COUNT(Change.id)).group_by(Change.kind).tuples())
    status_labels = registry.options["payment_status"].labels
    paying = [(status_labels.get(s, s), n, float(a or 0)) for s, n, a in
              scope.scoped(models, "payment", user).where(Payment.month == month)
              .select(Payment.status, pw.fn.COUNT(Payment.id), pw.fn.SUM(Payment.amount))
              .group_by(Payment.status).order_by(Payment.status).tuples()]
    months = [month]
    for _ in range(11):
        months.insert(0, care.previous_month(months[0]))
    history = dict((m, (n, float(a or 0))) for m, n, a in
                   scope.scoped(models, "payment", user).where(Payment.month.between(months[0], month))
                   .select(Payment.month, pw.fn.COUNT(Payment.id), pw.fn.SUM(Payment.amount))
                   .group_by(Payment.month).tuples())
    return {"month": month, "by_type": by_type, "households": sum(n for _, n, _ in by_type),
            "persons": sum(p for _, _, p in by_type), "added": changes.get("add", 0),
            "exited": changes.get("cancel", 0), "paying": paying,
            "history": [(m, *history.get(m, (0, 0.0))) for m in months]}


def supervision(engine, user):
    """[(label, count, endpoint)] of what waits on the user: findings, reviews, data checks, village
    reports — each only where the user may see that entity."""
    from casework.supervision import complaints, findings, village_reports
    from casework.cases import reviews
    models, today = engine.models, clock.today()
    out = []

    def can(name):
        return name in models.registry.entities and scope.can(models, user, name, "view")
    if can("finding"):
        Finding = models["finding"]
        out.append(("未验收的整改问题", scope.scoped(models, "finding", user).where(Finding.status != "accepted").count(),
                    "finding.index_view"))
        out.append(("整改已逾期", findings.overdue(models, user, today).count(), "finding.index_view"))
    if can("complaint"):
        out.append(("信访举报逾期未回复", complaints.overdue(models, user, today).count(), "complaint.index_view"))
    if can("care") and models["care"]._spec.has_field("next_review"):
        overdue, soon = reviews.counts(engine, user, today)
        out.append(("复核已逾期（户）", overdue, "reviews.index"))
        out.append(("复核即将到期（户）", soon, "reviews.index"))
    if can("check_result"):
        Result = models["check_result"]
        out.append(("待核实的比对结果", scope.scoped(models, "check_result", user).where(Result.status == "open").count(),
                    "checks.index"))
    if can("village_report"):
        month = care.previous_month(today.strftime("%Y-%m"))
        missing = sum(1 for _, report in village_reports.status(engine, user, month) if report is None)
        out.append((f"{month} 未报月报的村", missing, "village_reports.index"))
    return out
