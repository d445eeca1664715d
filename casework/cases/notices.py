"""Public notices (公示): the rows a village may post for a date, with only the declared columns and
ID numbers masked for the public (3704**********1234)."""

from schema import clock, types
from schema.resolve import DisplayContext, Resolver

from schema import idnumber
from casework.core import scope


def path_in(models, entity_name, path, ids_query):
    """entity rows whose `a.b.c` path value is in a subquery (or a list)."""
    model, spec = models[entity_name], models.registry.entities[entity_name]
    head, _, rest = path.partition(".")
    column = getattr(model, head)
    if not rest:
        return column.in_(ids_query)
    target = spec.field(head).to or "area"
    inner = models[target]
    return column.in_(inner.select(inner.id).where(path_in(models, target, rest, ids_query)))


def villages(models, user):
    Area = models["area"]
    return list(scope.scoped(models, "area", user).where(Area.level == "village").order_by(Area.code))


def rows(engine, notice, user, village_id, on=None):
    """(village, [[text per column]]) for the cases whose notice period covers `on`."""
    models = engine.models
    on = on or clock.today()
    Area = models["area"]
    village = scope.scoped(models, "area", user).where(Area.id == village_id, Area.level == "village").first()
    if village is None:
        return None, []
    model = models[notice.entity]
    query = (scope.scoped(models, notice.entity, user)
             .where(path_in(models, notice.entity, notice.village, [village.id]))
             .where(getattr(model, notice.start) <= on, getattr(model, notice.end) >= on)
             .order_by(getattr(model, notice.start), model.id))
    records = list(query)
    resolver = Resolver(models)
    resolver.prefetch(notice.entity, [r.__data__ for r in records], [p for p, _ in notice.columns])
    ctx = DisplayContext(engine.registry, resolver)
    out = []
    for r in records:
        cells = []
        for path, _label in notice.columns:
            spec, raw = resolver.value(notice.entity, r.__data__, path)
            if spec.type == "id_card":
                cells.append(idnumber.mask_public(raw))
            else:
                cells.append(types.get(spec.type).display(raw, spec, ctx, masked=spec.type == "bank_account"))
        out.append({"cells": cells, "start": getattr(r, notice.start), "end": getattr(r, notice.end)})
    return village, out
