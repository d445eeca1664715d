"""Standards (保障标准): the standard in force for an area, a kind and a month, the nearest area's latest.

Funds read them (the payment run's average standard) and the calculators measure against them.
"""


class NoStandard(Exception):
    """No standard is in force for the area, kind and month; the message says which is missing."""


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


def standard_kind_of(registry, assistance_type):
    """The standard a payment of an assistance type is measured against (its `standard` attribute in
    options/assistance_type.yaml; None: none, as for 临时救助)."""
    return registry.option_attr("assistance_type", assistance_type, "standard")


def _neg_month(month):
    year, mon = month.split("-")
    return -(int(year) * 12 + int(mon))
