"""Dotted field paths (`household.village.parent`): the one walk over references that every
declaration, list column, filter, report, document placeholder and copied value uses.

`hops()` gives each step as (entity spec, field spec); a path that names no field, or steps through a
field that is not a reference, raises `PathError` saying which part, so each caller words its own
Chinese message with its file and key.
"""


class PathError(ValueError):
    def __init__(self, part, not_a_ref=False):
        super().__init__(part)
        self.part, self.not_a_ref = part, not_a_ref


def target(field):
    """The entity a ref or area field points to."""
    return field.to or "area"


def hops(registry, entity, path):
    """[(entity spec, field spec)] along `path` from `entity` (a spec or its name)."""
    current = registry.entities[entity] if isinstance(entity, str) else entity
    parts, out = str(path).split("."), []
    for i, part in enumerate(parts):
        if not current.has_field(part):
            raise PathError(part)
        f = current.field(part)
        out.append((current, f))
        if i < len(parts) - 1:
            if f.type not in ("ref", "area"):
                raise PathError(part, not_a_ref=True)
            current = registry.entities[target(f)]
    return out


def field_at(registry, entity, path):
    """The field spec a path ends on."""
    return hops(registry, entity, path)[-1][1]

