"""Finding the rows an imported cell names: by a unique code, an ID number, or the display title
the export writes for a reference ("DEMO-001 张三"), always within the user's row scope."""
import re
import string

import peewee as pw

from casework.core import scope

CHUNK = 500
TEXT_COLUMNS = {"text", "id_card", "phone", "bank_account", "month", "choice"}


def key_fields(spec):
    """Fields that may name a record of `spec` in another sheet or file: unique fields and ID numbers."""
    return [f for f in spec.fields if f.unique or f.type == "id_card"]


def how_to_name(spec):
    ways = [k.label for k in key_fields(spec)]
    if spec.title:
        ways.append("导出表中的写法（" + title_example(spec) + "）")
    return "或".join(ways) or "编号"


def title_example(spec):
    return "".join(lit + (f"{{{spec.field(name).label}}}" if name and spec.has_field(name) else "")
                   for lit, name, _, _ in string.Formatter().parse(spec.title))


def title_pattern(spec):
    """(regex, [field names]) matching the spec's title template, or None when it has no text fields."""
    if not spec.title:
        return None
    parts, names = [], []
    pieces = list(string.Formatter().parse(spec.title))
    for i, (literal, name, _, _) in enumerate(pieces):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if not spec.has_field(name) or spec.field(name).type not in TEXT_COLUMNS:
            return None
        last = i == len(pieces) - 1 or all(n is None and not lit for lit, n, _, _ in pieces[i + 1:])
        parts.append(f"(?P<{name}>.+)" if last else f"(?P<{name}>.+?)")
        names.append(name)
    return (re.compile("^" + "".join(parts) + "$"), names) if names else None


def lookup(models, entity, user, texts):
    """{text: [record ids]} for the texts naming rows of `entity` the user may see; an empty list
    for a text that names nothing, several ids for an ambiguous title."""
    spec = models.registry.entities[entity]
    model = models[entity]
    texts = {t for t in texts if t}
    found = {t: [] for t in texts}

    def base():
        return scope.scoped(models, entity, user)

    for key in key_fields(spec):
        col = getattr(model, key.name)
        wanted = sorted({v for t in texts if not found[t] for v in (t, t.upper())})
        for chunk in pw.chunked(wanted, CHUNK):
            for rid, value in base().select(model.id, col).where(col.in_(chunk)).tuples():
                for t in (value, value.lower() if isinstance(value, str) else value):
                    if t in found and rid not in found[t]:
                        found[t].append(rid)
    pattern = title_pattern(spec)
    if pattern:
        regex, names = pattern
        for t in [t for t in texts if not found[t]]:
            m = regex.match(t)
            if not m:
                continue
            q = base().select(model.id)
            for name in names:
                q = q.where(getattr(model, name) == m.group(name).strip())
            found[t] = [rid for (rid,) in q.limit(5).tuples()]
    return found
