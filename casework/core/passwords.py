"""`password` fields on any entity: stored only as a salted hash, whether typed in a form or read from
an import; a blank value on a saved record keeps the stored hash (a form never shows the password, so
an edit that leaves it empty must not wipe it). Lists, details and exports leave these fields out
(FieldSpec shown_fields); the error workbook blanks their cells."""
import re

from werkzeug.security import generate_password_hash

# werkzeug's own format: method$salt$hash — anything else is a password as the user typed it
HASHED = re.compile(r"^(scrypt|pbkdf2)(:[\w:-]+)?\$[^$]+\$[0-9a-f]{32,}$")


def is_hash(value):
    return bool(value) and bool(HASHED.match(str(value)))


def password_fields(spec):
    return [f.name for f in spec.fields if f.type == "password"]


def install(models):
    for spec in models.registry.entities.values():
        names = password_fields(spec)
        if names:
            models.hooks.on(spec.name, "before_save")(_keeper(names))


def _keeper(names):
    def before(record, old):
        for name in names:
            value = getattr(record, name)
            if value in (None, ""):
                if old:
                    setattr(record, name, old.get(name))
            elif not is_hash(value):        # account changes (casework/core/accounts) hash beforehand
                setattr(record, name, generate_password_hash(str(value)))
    return before
