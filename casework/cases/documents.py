"""The values a document template is filled with, for one record and the user printing it."""
import datetime as dt

from schema import clock, types
from schema.resolve import DisplayContext, Resolver


def filler(engine, record, user, unmask):
    """(value(token) → text, items(name) → [text]) for reports.document.fill."""
    models, registry, flow = engine.models, engine.registry, engine.flow
    resolver = Resolver(models)
    ctx = DisplayContext(registry, resolver)
    entity = record._spec.name
    steps = flow.steps(record) if entity in flow.entities() else []
    Area = models["area"]
    village_id = record.__data__.get("village")
    village = Area.get_or_none(id=village_id) if village_id else None
    township = Area.get_or_none(id=village.__data__["parent"]) if village and village.__data__.get("parent") else None
    county = Area.get_or_none(id=township.__data__["parent"]) if township and township.__data__.get("parent") else None
    today = clock.today()
    special = {"village": village.name if village else "", "township": township.name if township else "",
               "county": county.name if county else "",
               # 行政复议法（2023年修订）第二十四条: a township government's decision, and one of a county
               # government's department (民政局), are both appealed to the county government
               "reconsideration_body": f"{county.name}人民政府" if county else "县级人民政府",
               "today": f"{today.year}年{today.month}月{today.day}日", "user": user.full_name if user else ""}

    def step_value(token):
        names, _, attr = token[5:].rpartition(".")
        wanted = names.split("|")
        found = [s for s in steps if s.action in wanted]
        if not found:
            return ""
        value = getattr(found[-1], attr)
        if isinstance(value, dt.datetime):
            return f"{value.year}年{value.month}月{value.day}日"
        return value or ""

    def value(token):
        if token in special:
            return special[token]
        if token.startswith("step:"):
            return step_value(token)
        if token.startswith("setting:"):
            return str(engine.settings.get(token[8:]))
        if token == "missing_materials":
            return "、".join(items(token))
        spec, raw = resolver.value(entity, record.__data__, token)
        return types.get(spec.type).display(raw, spec, ctx, masked=spec.sensitive and not unmask)

    def items(name):
        if name != "missing_materials" or entity not in flow.entities():
            return []
        wf = flow.workflow(record)
        have = set(types.get("checklist").codes(record.materials))
        needed = []
        for t in wf.transitions if wf else []:
            for field_name, codes in t.checked.items():
                labels = registry.options[record._spec.field(field_name).options].labels
                needed += [labels[c] for c in codes if c not in have and labels[c] not in needed]
        return needed

    return value, items
