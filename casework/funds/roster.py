"""The village roster (花名册) for a month: who is in care that month, at the amount in force then,
and the roster changes that take effect that month."""
from casework.funds import care
from casework.core import scope


def roster(engine, user, village_id, month):
    """(village, [care rows with amount], [changes]) within the user's scope; village None if outside."""
    models = engine.models
    Area, Care, Change = models["area"], models["care"], models["care_change"]
    village = scope.scoped(models, "area", user).where(Area.id == village_id, Area.level == "village").first()
    if village is None:
        return None, [], []
    rows = list(scope.scoped(models, "care", user)
                .where(Care.village == village.id, Care.start_month <= month,
                       Care.end_month.is_null() | (Care.end_month >= month))
                .order_by(Care.assistance_type, Care.head_name))
    amounts = care.amounts_in(models, [r.id for r in rows], month) if rows else {}
    in_care = [(r, amounts[r.id]) for r in rows if r.id in amounts]
    changes = list(scope.scoped(models, "care_change", user)
                   .where(Change.village == village.id, Change.effective_month == month)
                   .order_by(Change.kind, Change.id))
    return village, in_care, changes
