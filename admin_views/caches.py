"""Figures a page shows that are costly to compute and change seldom: whole-table counts, the home
page's totals, the area filter's options. Each is kept for a number of seconds (a setting) and dropped
at once when this process writes a row of the entity it depends on; a write by another process (a
second gunicorn worker) shows when the figure grows old.

A count only moves when a row comes or goes (created, deleted, archived, restored) or moves to
another area or parent (a household's village, a member's household): the household saves of a busy
office, a new phone number every few seconds, would otherwise recount the county's home page on
nearly every visit. Such figures are kept with `counts=True`."""
import threading
import time

from casework.core import scope

MOVES = {"create", "delete", "archive", "restore"}


class EntityCache:
    """Values keyed by (entity, key), valid while no row of the entity is written (or, for counts,
    added, removed or moved) and not older than max_age seconds (0: not kept)."""

    def __init__(self, models):
        self.values = {}
        self.generation = {}       # (entity, counts?) → writes seen by this process
        self.lock = threading.Lock()
        models.hooks.after.append(self._written)

    def _written(self, record, action, old):
        name = record._spec.name
        moved = action in MOVES or _moved(record, old)
        with self.lock:
            self.generation[(name, False)] = self.generation.get((name, False), 0) + 1
            if moved:
                self.generation[(name, True)] = self.generation.get((name, True), 0) + 1

    def get(self, entity, key, compute, max_age, counts=False):
        """entity: a name, or several when a write to any of them changes the value (a member's
        area is its household's)."""
        if not max_age or max_age <= 0:
            return compute()
        entities = (entity,) if isinstance(entity, str) else tuple(entity)
        full_key = (entities, key, counts)
        now = time.monotonic()
        gen = tuple(self.generation.get((e, counts), 0) for e in entities)
        hit = self.values.get(full_key)
        if hit and hit[0] == gen and now - hit[1] < max_age:
            return hit[2]
        value = compute()
        self.values[full_key] = (gen, now, value)
        return value


def _moved(record, old):
    """True when an update changed a reference or an area: the row now counts somewhere else."""
    if old is None:
        return True
    data = record.__data__
    return any(old.get(f.name) != data.get(f.name) for f in record._spec.fields if f.type in ("ref", "area"))


def area_count(engine, entity, user, count, archived=False):
    """The number of the user's rows of an entity: the home page's card and the unfiltered list of a
    township or village show the same figure, kept under one key for `home_count_cache_seconds`
    (a township's 100,000 members took 30-50 ms to count on PostgreSQL on every page)."""
    return for_engine(engine).get(scope.depends_on(engine.models, entity),
                                  ("area", user.__data__.get("area"), archived), count,
                                  engine.settings.get("home_count_cache_seconds"), counts=True)


def for_engine(engine):
    """The engine's one cache (each registers a save hook, so it is made once)."""
    cache = engine.__dict__.get("page_cache")
    if cache is None:
        cache = engine.__dict__["page_cache"] = EntityCache(engine.models)
    return cache
