"""One person, one household: a household's head is the head of no other live household (the
field is `unique` in the schema) and is a member of that household, with the relation declared as
the head's (户主). A head typed only on the household becomes its member when the form or the
import is saved; one registered in another household is refused.

Declared in the entity file: `head: {id: head_id_number, name: head_name, member: member, relation: "02"}`.
"""
from schema import RecordInvalid


def _parts(models, entity):
    spec = models.registry.entities[entity]
    head = spec.head
    if not head:
        return None
    member_spec = models.registry.entities[head["member"]]
    back = next(f for f in member_spec.fields if f.type == "ref" and f.to == entity)
    return spec, head, models[head["member"]], back


def settle(models, household):
    """Make the head a member of `household` (True if a member row was added), or raise
    RecordInvalid saying why they cannot be."""
    parts = _parts(models, household._spec.name)
    if parts is None:
        return False
    spec, head, Member, back = parts
    number = getattr(household, head["id"])
    if not number or getattr(household, "archived", False):
        return False
    live = Member.select().where(Member.id_number == number)
    if Member._spec.archive:
        live = live.where(Member.archived == False)  # noqa: E712
    rows = list(live)
    label = spec.field(head["id"]).label
    mine = [m for m in rows if m.__data__.get(back.name) == household.id]
    if mine:
        member = mine[0]
        if member.relation != head["relation"]:
            relations = models.registry.options[Member._spec.field("relation").options].labels
            raise RecordInvalid({head["id"]: f"{label}与本户成员“{member.name}”相同，但其与户主关系登记为"
                                             f"“{relations.get(member.relation, member.relation)}”：户主本人应登记为"
                                             f"“{relations.get(head['relation'], head['relation'])}”"})
        return False
    if rows:
        other = models[spec.name].get_or_none(id=rows[0].__data__.get(back.name))
        raise RecordInvalid({head["id"]: f"户主{getattr(household, head['name'])}已是另一户"
                                         f"（{other or ''}）的成员：同一人同一时间只能属于一户，"
                                         f"请先从原家庭中移除"})
    Member.create(**{back.name: household.id, "name": getattr(household, head["name"]), "id_number": number,
                     "relation": head["relation"]})
    return True


def settle_rows(models, entity, rows):
    """settle() for the households an import wrote: ([(row number, message)] of those refused,
    how many heads were added as members)."""
    parts = _parts(models, entity)
    if parts is None:
        return [], 0
    spec, head, Member, back = parts
    model = models[entity]
    refused, added = [], 0
    rows = list(rows)
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        # one query for the chunk's households and one for their heads' member rows: most heads of
        # an imported roster are already their household's member, and need nothing more
        records = {r.id: r for r in model.select().where(model.id.in_([i for _, i in chunk]))}
        numbers = {getattr(r, head["id"]) for r in records.values()} - {None, ""}
        live = Member.select(Member.id_number, getattr(Member, back.name), Member.relation) \
            .where(Member.id_number.in_(list(numbers)))
        if Member._spec.archive:
            live = live.where(Member.archived == False)  # noqa: E712
        members = {}
        for number, household_id, relation in live.tuples():
            members.setdefault(number, []).append((household_id, relation))
        for row_no, record_id in chunk:
            record = records.get(record_id)
            if record is None:
                continue
            number = getattr(record, head["id"])
            found = members.get(number, [])
            if number and not getattr(record, "archived", False) and len(found) == 1 \
                    and found[0] == (record.id, head["relation"]):
                continue            # already this household's member, as its head: settle() would do nothing
            try:
                added += settle(models, record)
            except RecordInvalid as e:
                refused.extend((row_no, msg) for msg in e.errors.values())
    return refused, added


def install(models):
    """A member who heads their live household cannot leave it, change ID number or be archived
    until the household names another head."""
    heads = {}
    for name, spec in models.registry.entities.items():
        if spec.head:
            parts = _parts(models, name)
            heads[spec.head["member"]] = (models[name], parts[0], parts[1], parts[3])
    if not heads:
        return

    def guard(record, old, archiving=False):
        entry = heads[record._spec.name]
        if not old:
            return
        Household, spec, head, back = entry
        household_id = old.get(back.name)
        household = Household.get_or_none(id=household_id)
        if household is None or getattr(household, "archived", False):
            return
        if getattr(household, head["id"]) != old.get("id_number"):
            return
        if archiving or record.__data__.get(back.name) != household_id or record.id_number != old.get("id_number"):
            raise RecordInvalid({"id_number": f"{record.name}是“{household}”的户主：请先在家庭户中更换户主，"
                                              f"再移出、删除或修改此人的身份证号"})

    models.hooks.on(set(heads), "before_save", guard)
    models.hooks.on(set(heads), "after_change",
                    lambda record, action, old: guard(record, old, True) if action == "archive" else None)
