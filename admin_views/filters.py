"""List filters from the `filters:` declaration. A dotted path ("household.village.parent") is applied
as a chain of IN subqueries, so no join is needed (flask-admin's peewee joins break on FK filters,
flask-admin#2417) and the row scope's own subqueries compose with it."""
import peewee as pw
from flask import has_request_context
from flask_admin.model.filters import BaseFilter

from schema import paths, types


def path_condition(models, entity_name, path, make_condition):
    """WHERE expression on entity rows: the field at the end of `path` satisfies make_condition."""
    spec = models.registry.entities[entity_name]
    model = models[entity_name]
    head, _, rest = path.partition(".")
    f = spec.field(head)
    column = getattr(model, f.name)
    if not rest:
        return make_condition(column)
    target = f.to or "area"
    target_model = models[target]
    inner = path_condition(models, target, rest, make_condition)
    return column.in_(target_model.select(target_model.id).where(inner))


class PathFilter(BaseFilter):
    op_label = ""

    def __init__(self, view, path, label, options=None, data_type=None):
        super().__init__(label, options=options, data_type=data_type)
        self.view, self.path = view, path
        self.column = getattr(view.model, path.split(".")[0])   # own column: no join in get_list

    def operation(self):
        return self.op_label

    weak = False          # matches a large share of rows: an index on it rarely helps

    def apply(self, query, value, weak_hint=False):
        def make(col):
            return self.compare(unindexed(col) if weak_hint and self.weak else col, value)
        return query.where(path_condition(self.view.models, self.view.spec.name, self.path, make))


def unindexed(col):
    """`+col`: SQLite will not use an index for this term (a planner hint; the value is the same)."""
    return pw.NodeList((pw.SQL("+"), col), glue="")


class Equal(PathFilter):
    op_label = "等于"

    def compare(self, col, value):
        return col == value


class NotEqual(PathFilter):
    op_label = "不等于"
    weak = True

    def compare(self, col, value):
        return col != value


class Contains(PathFilter):
    op_label = "包含"

    def compare(self, col, value):
        return col.contains(value)


class Greater(PathFilter):
    op_label = "大于"

    def compare(self, col, value):
        return col > value


class Smaller(PathFilter):
    op_label = "小于"

    def compare(self, col, value):
        return col < value


class Typed:
    """Mixin: clean and validate the raw filter value through the field type."""

    def __init__(self, view, path, label, field_spec, **kw):
        super().__init__(view, path, label, **kw)
        self.field_spec = field_spec

    def validate(self, value):
        try:
            return types.get(self.field_spec.type).coerce(value, self.field_spec) is not None
        except types.CellError:
            return False

    def clean(self, value):
        return types.get(self.field_spec.type).coerce(value, self.field_spec)


class ChoiceEqual(Equal):
    weak = True


class AreaEqual(Typed, Equal):
    def get_options(self, view):
        # options depend on the user asking; flask-admin also asks once at start-up, outside a request
        if not has_request_context():
            return None
        return super().get_options(view)


class DateAfter(Typed, Greater):
    op_label = "晚于"


class DateBefore(Typed, Smaller):
    op_label = "早于"


class NumberGreater(Typed, Greater):
    pass


class NumberSmaller(Typed, Smaller):
    pass


class NumberEqual(Typed, Equal):
    pass


class IsEmpty(PathFilter):
    """Rows where the field is not filled in yet (a to-do: no home visit date, no check result)."""
    op_label = "未填写"

    def __init__(self, view, path, label, text=False):
        super().__init__(view, path, label, options=[("1", "是")])
        self.text = text                # a text column may hold "" where nothing was chosen

    def clean(self, value):
        return value

    def compare(self, col, value):
        return (col.is_null() | (col == "")) if self.text else col.is_null()


class BoolEqual(Equal):
    weak = True

    def clean(self, value):
        return value == "1"


def _label_for(view, path):
    """'village.parent' on household → '所属村（社区） / 上级区划'; area levels read better by name."""
    field = view.resolve(path)
    if field.type == "area" and "." in path:
        level = _level_of(view, path)
        if level:
            return view.models.registry.options["area_level"].label_of(level).split("（")[0]
    return field.label


def _level_of(view, path):
    """The area level a path reaches when the declarations fix it (village.parent → township)."""
    order = ["county", "township", "village"]
    level = None
    for entity, f in paths.hops(view.models.registry, view.spec, path):
        if entity.name == "area" and f.name == "parent":
            level = order[order.index(level) - 1] if level in order[1:] else None
        elif f.type == "area":
            level = f.level
    return level


def build(view):
    out, empties = [], []
    for path in view.spec.filters:
        f = view.resolve(path)
        label = _label_for(view, path)
        if f.type == "choice":
            opts = view.models.registry.options[f.options].choices()
            out += [ChoiceEqual(view, path, label, options=opts), NotEqual(view, path, label, options=opts)]
            empties.append(IsEmpty(view, path, label, text=True))
        elif f.type in ("area", "ref") and (f.type == "area" or f.to == "area"):
            level = _level_of(view, path)
            out.append(AreaEqual(view, path, label, f, options=lambda lv=level: view.area_options(lv)))
        elif f.type == "ref":
            continue            # a filter by a non-area row would list every row; use search instead
        elif f.type == "bool":
            out.append(BoolEqual(view, path, label, options=[("1", "是"), ("0", "否")]))
        elif f.type in ("date", "datetime"):
            out += [DateAfter(view, path, label, f, data_type="datepicker"),
                    DateBefore(view, path, label, f, data_type="datepicker")]
            empties.append(IsEmpty(view, path, label))
        elif f.type in ("int", "money"):
            out += [NumberEqual(view, path, label, f), NumberGreater(view, path, label, f),
                    NumberSmaller(view, path, label, f)]
        else:
            out += [Contains(view, path, label), Equal(view, path, label)]
    return out + empties        # last, so the position of every older filter in saved links stays
