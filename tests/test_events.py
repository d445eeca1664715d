"""Per-entity save events (playhouse.signals style): a rule registered for one entity runs only for that
entity's saves, in registration order among the rules of every entity; a save no longer calls the rules
of other tables."""
from casework.core import system
from schema.models import Hooks

from .test_workflow import World


class Spec:
    def __init__(self, name):
        self.name = name


class Row:
    def __init__(self, name):
        self._spec = Spec(name)


def test_an_entity_hook_runs_for_that_entity_only_and_in_registration_order():
    hooks, seen = Hooks(), []
    hooks.before.append(lambda record, old: seen.append("every"))
    hooks.on("household", "before_save", lambda record, old: seen.append("household"))
    hooks.on(["household", "member"], "before_save", lambda record, old: seen.append("both"))
    hooks.on("member", "before_save", lambda record, old: seen.append("first"), first=True)
    hooks.run_before(Row("household"), None)
    assert seen == ["every", "household", "both"]
    seen.clear()
    hooks.run_before(Row("member"), None)
    assert seen == ["first", "every", "both"]
    seen.clear()
    hooks.after.append(lambda record, action, old: seen.append(action))
    hooks.on("member", "after_change", lambda record, action, old: seen.append("member " + action))
    hooks.run_after(Row("area"), "create", None)
    hooks.run_after(Row("member"), "update", {})
    assert seen == ["create", "update", "member update"]
    hooks.before.append(lambda record, old: seen.append("added later"))      # the plan follows a new hook
    seen.clear()
    hooks.run_before(Row("area"), None)
    assert seen == ["every", "added later"]


def test_a_save_runs_only_its_own_entitys_rules(engine):
    world = World(engine)
    hooks, seen = engine.models.hooks, []
    count = (len(hooks.before), len(hooks.after))
    assert len(hooks.plan("before", "household")) < count[0] // 2       # not every table's rules
    hooks.on("household", "after_change", lambda record, action, old: seen.append((record.code, action)))
    token = system.actor.set((None, "测试", None))
    try:
        household = world.households[0]
        household.phone = "13912345678"
        household.save()
        town = world.towns[0]
        town.name = "运河街道"
        town.save()                                           # another table's save: not seen
    finally:
        system.actor.reset(token)
    assert seen == [("H0", "update")]
