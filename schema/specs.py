"""Plain specs compiled from the YAML files. No I/O, no Flask."""
from dataclasses import dataclass, field as dc_field
from typing import Any

from .conditions import evaluate


@dataclass
class Option:
    code: str
    label: str
    aliases: list = dc_field(default_factory=list)   # other words offices write for it (妻子 → 配偶)
    attrs: dict = dc_field(default_factory=dict)     # declared attributes: family, single_person, …


@dataclass
class OptionList:
    name: str
    label: str
    options: list
    file: str = ""
    common: list = dc_field(default_factory=list)    # codes offered first in forms (户主、配偶、子、女 …)
    attributes: dict = dc_field(default_factory=dict)   # attribute name → {label, options, type}

    def __post_init__(self):
        self.labels = {o.code: o.label for o in self.options}
        self._codes = {o.label: o.code for o in self.options}
        self._codes.update({o.code: o.code for o in self.options})
        for o in self.options:
            for alias in o.aliases:
                self._codes.setdefault(str(alias), o.code)

    def label_of(self, code):
        return self.labels.get(code, code)

    def code_of(self, text):
        """Accept a code, a label or a declared alias (imports and filters use either); a code typed
        as a number (1.0 from a cell, 2 for "02") is found too."""
        if isinstance(text, float) and text.is_integer():
            text = int(text)
        text = str(text).strip().replace("\u3000", "")
        code = self._codes.get(text)
        if code is None and text.isdigit():
            code = next((c for c in self.labels if c.isdigit() and c.lstrip("0") == text.lstrip("0")
                         and len(c) > len(text)), None)
        return code

    def choices(self):
        return [(o.code, o.label) for o in self.options]

    def _attribute(self, name):
        if name not in self.attributes:
            raise KeyError(f"选项表 {self.name} 没有声明属性 {name}")
        return name

    def attr(self, code, name, default=None):
        """The value of a declared attribute of one option (None when the option leaves it out)."""
        self._attribute(name)
        for o in self.options:
            if o.code == str(code):
                return o.attrs.get(name, default)
        return default

    def codes_with(self, **attrs):
        """The codes, in order, whose attributes have all the given values (a new assistance type in
        YAML joins the groups its attributes name, with no code to change)."""
        for name in attrs:
            self._attribute(name)
        return [o.code for o in self.options if all(o.attrs.get(k) == v for k, v in attrs.items())]

    def form_choices(self):
        """The common codes first, then the rest in the standard's order."""
        first = [c for c in self.common if c in self.labels]
        return [(c, self.labels[c]) for c in first] + [(o.code, o.label) for o in self.options if o.code not in first]


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
    fixed: bool = False           # written when the record is made; afterwards only by a signed workflow step
    aliases: list = dc_field(default_factory=list)   # other headers offices write for this column
    renamed_from: str | None = None   # the field's former name: migration renames its column, keeping the data
    writers: list | None = None   # roles or levels (county, township, village) that may change it once saved
    frozen: bool = False          # the entity's `immutable_after: {when: saved}` covers it: never changed once saved
    entity: str = ""

    @property
    def column_name(self):
        return self.name + "_id" if self.type in ("ref", "area") else self.name

    def user_may_write(self, existing=False, role=None):
        """May a value typed by a user (a form, an inline row, a list edit, an import) land in this
        field? Not when rules write it (`readonly`: statuses, closing stamps, derived values), nor
        when it is `hidden`, nor — on a record that already exists — when it is `fixed` (what a case
        is about: a correction is a workflow step) or `frozen` by the entity's `immutable_after`, or
        when `role` (a Role; None: not asked) is not among its `writers`. Every path that takes user
        input asks this; casework/core/writes.py refuses the same on every save."""
        if self.readonly or self.hidden:
            return False
        if existing and (self.fixed or self.frozen or (role is not None and not self.writable_by(role))):
            return False
        return True

    def writable_by(self, role):
        """May a user of `role` change the field on a saved record (`writers:`; None: anyone)?"""
        return self.writers is None or role.code in self.writers or role.level in self.writers

    @property
    def user_writable(self):
        return self.user_may_write(existing=False)


@dataclass
class UniqueRows:
    """At most one row per combination of `fields` among the rows meeting `where` (field → value):
    a partial unique index on both databases."""
    name: str
    fields: list
    where: dict
    message: str


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
    related: list = dc_field(default_factory=list)    # child entities listed (read-only) on the details page
    editable: list = dc_field(default_factory=list)
    menu: str | None = None       # menu category label
    table: str | None = None
    no_import: str | None = None  # why the Excel import refuses this table (its rows follow rules on save)
    search_inline: bool = False   # the search also finds a record by its inline children's search fields
    unique_rows: list = dc_field(default_factory=list)   # UniqueRows
    head: dict | None = None      # the head of the household must be one of its members (casework/core/heads.py)
    import_key: str | None = None # the field an import update finds rows by (default: a unique ID number)
    import_ignore: dict = dc_field(default_factory=dict)   # roster header → why it is not imported (derived)
    versioned: bool = True        # a row version refuses a save based on an outdated copy (lost update)
    # {when: "saved" | condition on the stored row, fields | except, field, message}: see schema/README.md
    immutable_after: dict | None = None
    writers_message: str | None = None   # what a user is told whose role may not change a `writers:` field

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
    duties: list = dc_field(default_factory=list)          # system duties: users, settings, security, audit_log
    separated_duties: list | None = None    # what is left of them under 三员分立 (setting separate_duties)

    def duties_now(self, separated):
        return self.separated_duties if separated and self.separated_duties is not None else self.duties

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
    duty: str = "settings"            # the system duty that may change it (security settings: security)

    @property
    def name(self):
        return self.key


@dataclass
class Transition:
    name: str
    label: str
    sources: list                  # states it leaves from
    target: str                    # state it goes to; "" stays where it is (a step that records only)
    roles: list
    fields: list = dc_field(default_factory=list)      # what its form collects
    requires: list = dc_field(default_factory=list)    # what must be filled to pass
    checked: dict = dc_field(default_factory=dict)     # checklist field → codes that must be ticked
    when: Any = None               # condition on the record as it is: else the button is not offered
    when_message: str | None = None
    check: Any = None              # condition after the form's values: else refused with check_message
    check_message: str | None = None
    sets: dict = dc_field(default_factory=dict)        # field → "today" | {period: setting[, after: field]} | literal
    defaults: dict = dc_field(default_factory=dict)    # form field → "today" | literal, when left empty
    opinion: str = "optional"      # required / optional
    style: str = "primary"
    effects: list = dc_field(default_factory=list)     # run after the step, in the same transaction
    computed: list = dc_field(default_factory=list)    # fields its form starts from the calculator's result
    eligible: bool = False         # refused when the case's calculator finds the case does not qualify


@dataclass
class Deadline:
    name: str
    label: str
    start: str                     # a date field of the record, or a state (the day it was entered)
    until: list                    # states that meet it
    days: str                      # the setting holding N
    unit: str = "working"          # working / calendar / hours (from a datetime field, e.g. 24 hours from a report)
    pauses: list = dc_field(default_factory=list)      # states whose time does not count (e.g. 民主评议)
    met: str | None = None         # a datetime field whose value is the moment it was met (else: the step's time)


@dataclass
class Workflow:
    name: str
    label: str
    entity: str
    type_field: str
    state_field: str
    types: list
    start: str
    transitions: list
    deadlines: list = dc_field(default_factory=list)
    create_requires: list = dc_field(default_factory=list)
    calculators: dict = dc_field(default_factory=dict)    # type code → calculator name
    prefill: list = dc_field(default_factory=list)        # money fields a form starts with the computed sum
    effects: dict = dc_field(default_factory=dict)        # state → [effect names] run on entering it
    match: object = None                                  # condition: only records meeting it (else all)
    file: str = ""
    states: list | None = None                            # declared states (None: not declared)
    finals: set | None = None                             # declared `final: true` states

    def transition(self, name):
        for t in self.transitions:
            if t.name == name:
                return t
        raise KeyError(name)

    def closing_states(self):
        """The states that end a case: those declared `final: true`; without `states:`, those no
        transition leaves (the case is decided, or referred and closed)."""
        if self.finals is not None:
            return set(self.finals)
        leaving = {s for t in self.transitions for s in t.sources if t.target not in ("", s)}
        return {t.target for t in self.transitions if t.target} - leaving


@dataclass
class Profile:
    name: str
    label: str
    values: dict
    file: str = ""


@dataclass
class Registry:
    entities: dict
    options: dict
    roles: dict
    settings: dict
    root: str = ""
    workflows: dict = dc_field(default_factory=dict)
    profiles: dict = dc_field(default_factory=dict)
    notices: dict = dc_field(default_factory=dict)

    def workflow_for(self, entity_name, type_code, values=None):
        """The workflow of a record: one whose `match` the values meet first, else the plain one."""
        plain = None
        for wf in self.workflows.values():
            if wf.entity != entity_name or type_code not in wf.types:
                continue
            if wf.match is None:
                plain = plain or wf
            elif values is not None and evaluate(wf.match, values, lambda key: None):
                return wf
        return plain

    def entity(self, name):
        return self.entities[name]

    def final_states(self, entity_name):
        """Every state that ends a record of the entity in some workflow (a case is open until then)."""
        return sorted({s for wf in self.workflows.values() if wf.entity == entity_name
                       for s in wf.closing_states()})

    def option_list(self, name):
        return self.options[name]

    def codes_with(self, list_name, **attrs):
        """`registry.codes_with("assistance_type", family="dibao")` → ["11", "12", "13"]."""
        return self.options[list_name].codes_with(**attrs)

    def option_attr(self, list_name, code, attr, default=None):
        """`registry.option_attr("assistance_type", "21", "certificate")` → "2"."""
        return self.options[list_name].attr(code, attr, default)

    def children_of(self, entity_name):
        """(child entity, ref field) pairs whose ref points at entity_name."""
        out = []
        for e in self.entities.values():
            for f in e.fields:
                if f.type == "ref" and f.to == entity_name:
                    out.append((e, f))
        return out
