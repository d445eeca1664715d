"""Figures a page shows that are costly to compute and change seldom: whole-table counts, the home
page's totals, the area filter's options. Each is kept for a number of seconds (a setting) and dropped
at once when this process writes a row of the entity it depends on; a write by another process (a
second gunicorn worker) shows when the figure grows old."""
import threading
import time


class EntityCache:
    """Values keyed by (entity, key), valid while no row of the entity is written and not older
    than max_age seconds (0: not kept)."""

    def __init__(self, models):
        self.values = {}
        self.generation = {}
        self.lock = threading.Lock()
        models.hooks.after.append(self._written)

    def _written(self, record, action, old):
        name = record._spec.name
        with self.lock:
            self.generation[name] = self.generation.get(name, 0) + 1

    def get(self, entity, key, compute, max_age):
        """entity: a name, or several when a write to any of them changes the value (a member's
        area is its household's)."""
        if not max_age or max_age <= 0:
            return compute()
        entities = (entity,) if isinstance(entity, str) else tuple(entity)
        full_key = (entities, key)
        now = time.monotonic()
        gen = tuple(self.generation.get(e, 0) for e in entities)
        hit = self.values.get(full_key)
        if hit and hit[0] == gen and now - hit[1] < max_age:
            return hit[2]
        value = compute()
        self.values[full_key] = (gen, now, value)
        return value


def for_engine(engine):
    """The engine's one cache (each registers a save hook, so it is made once)."""
    cache = engine.__dict__.get("page_cache")
    if cache is None:
        cache = engine.__dict__["page_cache"] = EntityCache(engine.models)
    return cache
