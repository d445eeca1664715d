"""A reference may point only at a row the saving user may see, and (setting `ref_area_level`, default
township) only at a row of the record's own township: a member of one township's household is not
saved as the guardian of, or into, another township's household — not even by the county, who sees
both. Checked on every save (form, inline row, a forged picker value, an update import) and, for the
rows an import writes in bulk, by the import itself (`problem_of`)."""
from casework.core import scope, system
from schema import RecordInvalid, paths

OFF = {"", "none", "off", "不限", "0"}


def level(models):
    """The area level both ends must share, or None when the setting turns the rule off. The setting
    is a level code (township, village, county) or its label (乡镇（街道）…); an unknown one keeps the
    default, so a typo never opens the rule."""
    settings = getattr(models, "settings", None)
    raw = str(settings.get("ref_area_level") if settings else "township").strip()
    if raw.lower() in OFF:
        return None
    levels = models.registry.options["area_level"]
    for option in levels.options:
        if raw in (option.code, option.label) or option.label.startswith(raw):
            return option.code
    return "township"


def checked_fields(spec):
    """References a user writes (rules write the read-only and derived ones)."""
    return [f for f in spec.fields if f.type == "ref" and f.user_writable]


def area_of(models, spec, data):
    """The area id a record with these values hangs under (along its scope path), or None."""
    if not spec.scope or spec.scope == "self":
        return data.get("id") if spec.scope == "self" else None
    try:
        steps = paths.hops(models.registry, spec, spec.scope)
    except paths.PathError:
        return None
    value = data.get(steps[0][1].name)
    for entity, f in steps[1:]:
        if value is None or isinstance(value, tuple):
            return None
        model = models[entity.name]
        value = model.select(getattr(model, f.name)).where(model.id == value).scalar()
    return None if isinstance(value, tuple) else value


def ancestor(models, area_id, want, memo=None):
    """The area at level `want` above (or at) area_id; None if area_id sits above that level.
    memo: a dict kept by a caller that asks for many rows (an import), so each area is walked once."""
    if memo is not None:
        key = ("area", area_id, want)
        if key not in memo:
            memo[key] = ancestor(models, area_id, want)
        return memo[key]
    Area = models["area"]
    for _ in range(8):
        if area_id is None:
            return None
        row = Area.select(Area.id, Area.level, Area.parent, Area.name).where(Area.id == area_id).tuples().first()
        if row is None:
            return None
        if row[1] == want:
            return row
        area_id = row[2]
    return None


def problem_of(models, spec, f, data, target_id, user=None, own_area=None, memo=None):
    """Why `data`'s reference `f` → target_id is refused, or None. own_area: the record's area when
    the caller knows it (an import row whose household is in the same file); memo: see `ancestor`."""
    target = models.registry.entities[f.to]
    if user is not None and not scope.allows(models, f.to, user, target_id, archived=None):
        return f"所选的{target.label}不在您的管辖范围内，请重新选择"
    want = level(models)
    if want is None:
        return None
    mine = ancestor(models, own_area if own_area is not None else area_of(models, spec, data), want, memo)
    if mine is None:
        return None
    theirs = ancestor(models, _target_area(models, target, target_id, memo), want, memo)
    if theirs is None or theirs[0] == mine[0]:
        return None
    name = models.registry.options["area_level"].label_of(want)
    return (f"{f.label}只能选本{name}的{target.label}：所选的属于{theirs[3]}，"
            f"而这条{spec.label}属于{mine[3]}")


def _target_area(models, target, target_id, memo):
    key = ("row", target.name, target_id)
    if memo is not None and key in memo:
        return memo[key]
    row = models[target.name].get_or_none(models[target.name].id == target_id)
    area = None if row is None else area_of(models, target, dict(row.__data__))
    if memo is not None:
        memo[key] = area
    return area


def acting_user(models):
    who = system.actor.get()
    if not who or who[0] is None:
        return None         # the system itself (rules, demo data, scripts) is not refused here
    return models["user"].get_or_none(models["user"].id == who[0])


def install(models):
    for spec in models.registry.entities.values():
        fields = checked_fields(spec)
        if fields:
            models.hooks.on(spec.name, "before_save")(_rule(models, spec, fields))


def _rule(models, spec, fields):
    def before(record, old):
        user = None
        errors = {}
        for f in fields:
            value = record.__data__.get(f.name)
            if value is None or (old and old.get(f.name) == value):
                continue        # unchanged: a row saved before the rule, or by the system, stays editable
            user = user or acting_user(models)
            if user is None:
                return
            message = problem_of(models, spec, f, record.__data__, value, user)
            if message:
                errors[f.name] = message
        if errors:
            raise RecordInvalid(errors)
    return before
