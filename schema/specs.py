"""Plain specs compiled from the YAML files. No I/O, no Flask, no peewee."""
from dataclasses import dataclass, field as dc_field
from typing import Any


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


@dataclass
class Option:
    code: str
    label: str


@dataclass
class OptionList:
    name: str
    label: str
    options: list
    file: str = ""

    def __post_init__(self):
        self.labels = {o.code: o.label for o in self.options}
        self._codes = {o.label: o.code for o in self.options}
        self._codes.update({o.code: o.code for o in self.options})

    def label_of(self, code):
        return self.labels.get(code, code)

    def code_of(self, text):
        """Accept a code or a label (imports and filters use either)."""
        return self._codes.get(str(text).strip())

    def choices(self):
        return [(o.code, o.label) for o in self.options]


@dataclass
class Field:
    name: str
    type: str
    label: str
    required: bool = False
    unique: bool = False
    index: bool = False
    default: Any = None
    options: str | None = None
    to: str | None = None
    max_length: int | None = None
    help: str | None = None
    sensitive: bool = False
    readonly: bool = False
    derive: str | None = None
    level: str | None = None      # for `area` fields: the level the value must have
    hidden: bool = False          # kept in the database, never shown in forms or lists
    unique_message: str | None = None   # shown when a unique value is taken
    in_list: bool = True          # False keeps a field out of the list page (forms, export keep it)
    entity: str = ""

    @property
    def column_name(self):
        return self.name + "_id" if self.type in ("ref", "area") else self.name


@dataclass
class Entity:
    name: str
    label: str
    fields: list
    file: str = ""
    scope: str | None = None      # "self", a field name, or "ref_field.area_field"
    archive: bool = False
    title: str | None = None      # python format string over fields, e.g. "{code} {head_name}"
    list: list = dc_field(default_factory=list)
    filters: list = dc_field(default_factory=list)
    search: list = dc_field(default_factory=list)
    order: list = dc_field(default_factory=list)
    inline: list = dc_field(default_factory=list)
    editable: list = dc_field(default_factory=list)
    menu: str | None = None       # menu category label
    table: str | None = None

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def has_field(self, name):
        return any(f.name == name for f in self.fields)

    def list_columns(self):
        """Declared `list` columns first, then every other shown field: a new field appears by itself."""
        cols = list(self.list)
        for f in self.fields:
            if f.name not in cols and f.in_list and not f.hidden and f.type != "password":
                cols.append(f.name)
        return cols

    def shown_fields(self):
        return [f for f in self.fields if not f.hidden and f.type != "password"]

    @property
    def table_name(self):
        return self.table or self.name


@dataclass
class Role:
    code: str
    label: str
    level: str                     # the area level a user of this role must sit at
    default: list = dc_field(default_factory=list)
    entities: dict = dc_field(default_factory=dict)

    def can(self, entity, action):
        allowed = self.entities.get(entity, self.default)
        return action in allowed


@dataclass
class Setting:
    key: str
    label: str
    type: str
    default: Any
    help: str | None = None
    source: str | None = None
    max_length: int | None = None     # so a setting can be coerced by its field type like a field
    options: str | None = None
    required: bool = True

    @property
    def name(self):
        return self.key


@dataclass
class Registry:
    entities: dict
    options: dict
    roles: dict
    settings: dict
    root: str = ""

    def entity(self, name):
        return self.entities[name]

    def option_list(self, name):
        return self.options[name]

    def children_of(self, entity_name):
        """(child entity, ref field) pairs whose ref points at entity_name."""
        out = []
        for e in self.entities.values():
            for f in e.fields:
                if f.type == "ref" and f.to == entity_name:
                    out.append((e, f))
        return out
