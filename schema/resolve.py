"""Batch loading of referenced rows, so lists and exports never run one query per row.

`Resolver.prefetch(entity, rows, paths)` loads, hop by hop, every row that the given field paths
(e.g. "village", "household.village.parent") reach from a batch of rows, with one query per hop
and entity. Values and titles are then read from the cache.
"""
import peewee as pw

from .paths import hops

CHUNK = 900          # below SQLite's bound-parameter limit


class Resolver:
    def __init__(self, models):
        self.models = models
        self.registry = models.registry
        self.cache = {}        # entity -> {id: data dict}

    def _load(self, entity, ids):
        known = self.cache.setdefault(entity, {})
        missing = [i for i in set(ids) if i is not None and i not in known]
        model = self.models[entity]
        for part in pw.chunked(missing, CHUNK):
            for row in model.select().where(model.id.in_(part)).dicts():
                known[row["id"]] = row

    def _hops(self, entity, path):
        """[(entity, field spec)] along a dotted path."""
        return [(spec.name, f) for spec, f in hops(self.registry, entity, path)]

    def prefetch(self, entity, rows, paths):
        """rows: data dicts (field name → raw value) of `entity`."""
        for path in paths:
            level = rows
            for ent, f in self._hops(entity, path):
                if f.type not in ("ref", "area"):
                    break
                target = f.to or "area"
                ids = [r.get(f.name) for r in level]
                self._load(target, ids)
                level = [self.cache[target][i] for i in ids if i in self.cache.get(target, {})]
        return self

    def value(self, entity, row, path):
        """(field spec, raw value) at the end of a path; missing links give None."""
        data = row
        hops = self._hops(entity, path)
        for i, (ent, f) in enumerate(hops):
            raw = data.get(f.name) if data else None
            if i == len(hops) - 1:
                return f, raw
            data = self.row(f.to or "area", raw)
        return hops[-1][1], None

    def row(self, entity, record_id):
        if record_id is None:
            return None
        known = self.cache.setdefault(entity, {})
        if record_id not in known:
            self._load(entity, [record_id])
        return known.get(record_id)

    def title(self, entity, record_id):
        data = self.row(entity, record_id)
        if data is None:
            return "" if record_id is None else f"#{record_id}"
        spec = self.registry.entities[entity]
        if spec.title:
            try:
                return spec.title.format(**{k: ("" if v is None else v) for k, v in data.items()})
            except (KeyError, ValueError):
                pass
        return f"{spec.label} #{record_id}"


class DisplayContext:
    """What a field type needs to display or export a value: option lists and reference titles."""

    def __init__(self, registry, resolver=None, ajax_field=None):
        self.registry = registry
        self.resolver = resolver
        self._ajax_field = ajax_field

    def title_of(self, entity, record_id):
        return self.resolver.title(entity, record_id) if self.resolver else f"#{record_id}"

    def ajax_field(self, spec):
        return self._ajax_field(spec)
