"""Row scope: the one place that decides which rows a user may touch.

Every path (list, count, details, edit, delete, mass actions, list editing, lookups, export,
reports, imports) asks `scoped()` or `allows()`. Deny by default: no user, an inactive user or a
user without an area gets a query that matches nothing.
"""
import peewee as pw

from schema import RecordInvalid, paths

NOTHING = pw.SQL("1 = 0")


def subtree(models, area_id):
    """Ids of the area and everything below it, as a subquery."""
    Area = models["area"]
    root = Area.select(Area.path).where(Area.id == area_id).scalar()
    if root is None:
        return None
    return Area.select(Area.id).where(Area.path.startswith(root))


def is_whole_tree(models, area_id):
    Area = models["area"]
    row = Area.select(Area.parent).where(Area.id == area_id).tuples().first()
    if row is None or row[0] is not None:
        return False
    return Area.select().where(Area.parent.is_null()).count() == 1


def _remembered(user, key, compute):
    """Facts about the user's area, asked a dozen times per page (every list, count and lookup),
    kept on the user object: one object per request, so a change of the tree shows next request.
    On PostgreSQL each repeat was a round trip (43 queries for the home page, 24 of them these)."""
    memo = user.__dict__.setdefault("_scope_memo", {})
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def sees_everything(models, user):
    """True for an active user whose area is the single root: no row is outside their scope."""
    if user is None or not getattr(user, "active", False) or not user.__data__.get("area"):
        return False
    area_id = user.__data__["area"]
    return _remembered(user, ("whole", area_id), lambda: is_whole_tree(models, area_id))


def condition(models, entity_name, user):
    """A WHERE expression limiting entity rows to the user's area subtree."""
    if user is None or not getattr(user, "active", False) or not user.__data__.get("area"):
        return NOTHING
    area_id = user.__data__["area"]
    spec = models.registry.entities[entity_name]
    model = models[entity_name]
    if sees_everything(models, user):
        return pw.SQL("1 = 1")
    Area = models["area"]
    root = _remembered(user, ("path", area_id),
                       lambda: Area.select(Area.path).where(Area.id == area_id).scalar())
    ids = Area.select(Area.id).where(Area.path.startswith(root)) if root is not None else None
    if ids is None:
        return NOTHING
    if spec.scope == "self":
        Area = models["area"]
        return model.id.in_(ids) if model is not Area else Area.id.in_(ids)
    return _chain(models, paths.hops(models.registry, spec, spec.scope), ids)


def depends_on(models, entity_name):
    """The entities whose rows decide which of this entity's rows a user sees (a member's area is
    its household's village): a kept count of the user's rows is stale when any of them moves."""
    spec = models.registry.entities[entity_name]
    if spec.scope == "self" or not spec.scope:
        return (entity_name,)
    return tuple(dict.fromkeys(e.name for e, _f in paths.hops(models.registry, spec, spec.scope)))


def _chain(models, steps, ids):
    """`a IN (SELECT id FROM A WHERE b IN (… area ids))` along the scope path, innermost first."""
    entity, f = steps[-1]
    condition = getattr(models[entity.name], f.name).in_(ids)
    for entity, f in reversed(steps[:-1]):
        target = models[paths.target(f)]
        condition = getattr(models[entity.name], f.name).in_(target.select(target.id).where(condition))
    return condition


def scoped(models, entity_name, user, archived=False):
    """The user's rows of an entity. Archived rows only when asked for (archived=None: both, for a
    caller whose other conditions already say which)."""
    model = models[entity_name]
    query = model.select().where(condition(models, entity_name, user))
    if model._spec.archive and archived is not None:
        query = query.where(model.archived == archived)
    return query


def allows(models, entity_name, user, record_id, archived=False):
    model = models[entity_name]
    return scoped(models, entity_name, user, archived).where(model.id == record_id).exists()


def role_of(models, user):
    if user is None:
        return None
    return models.registry.roles.get(user.role)


def actor_role(models):
    """The role (a Role spec) of the user acting now; None for the system itself (hooks, scripts,
    demo data)."""
    from casework.core.system import actor
    who = actor.get()
    if not who or who[0] is None:
        return None
    return role_of(models, models["user"].get_or_none(id=who[0]))


def actor_level(models):
    """The area level (county, township, village) of the user acting now; None for the system itself
    (hooks, scripts, demo data), which the supervision rules let through."""
    role = actor_role(models)
    return role.level if role else None


def can(models, user, entity_name, action):
    role = role_of(models, user)
    if not (role and getattr(user, "active", False) and role.can(entity_name, action)):
        return False
    if entity_name == "user" and action not in ("view", "export", "audit"):
        # accounts are changed only by whoever holds the duty now (三员分立 may take it from a role)
        return has_duty(models, user, "users") or has_duty(models, user, "security")
    return True


def separated(models):
    settings = getattr(models, "settings", None)
    return bool(settings and settings.get("separate_duties"))


def has_duty(models, user, duty):
    """Whether the user holds a system duty (users, settings, security, audit_log) under the current
    setting `separate_duties` (schema/roles.yaml: duties / separated_duties)."""
    role = role_of(models, user)
    if not role or not getattr(user, "active", False):
        return False
    return duty in role.duties_now(separated(models))


def install_user_rules(models):
    """A user's area must sit at the level of the role (the password is hashed by core/passwords)."""
    if "user" not in models.registry.entities:
        return

    @models.hooks.on("user", "before_save")
    def before(record, old):
        role = models.registry.roles.get(record.role)
        if role is None:
            raise RecordInvalid({"role": "未知的角色"})
        area_id = record.__data__.get("area")
        if area_id:
            level = models["area"].select(models["area"].level).where(models["area"].id == area_id).scalar()
            if level != role.level:
                want = models.registry.options["area_level"].label_of(role.level)
                raise RecordInvalid({"area": f"角色“{role.label}”的所属区划应为{want}一级"})
