"""The errors the schema package raises. One module with no imports, so specs, conditions and
models can all raise them without importing each other."""


class SchemaError(Exception):
    """An invalid declaration. The message names the file, the entity and the field."""

    def __init__(self, file, message, entity=None, field=None):
        self.file, self.entity, self.field = file, entity, field
        where = [f"文件 {file}"]
        if entity:
            where.append(f"实体 {entity}")
        if field:
            where.append(f"字段 {field}")
        super().__init__("，".join(where) + "：" + message)


class RecordInvalid(Exception):
    """A record breaks a rule; `errors` maps field name to a Chinese message."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("；".join(f"{msg}" for msg in errors.values()))


class StaleRecord(Exception):
    """A save based on a copy of the row that someone else has changed since it was loaded.
    `current` is the row as stored now (a dict), for showing the user what it holds."""

    def __init__(self, record, current):
        self.record, self.current = record, current
        super().__init__(f"{record._spec.label} #{record._pk} 已被他人修改")
