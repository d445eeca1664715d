"""The compiler: read every YAML declaration under a folder, validate it, return a Registry.

Pure: it reads files and nothing else. Every error is a SchemaError naming file, entity and field.
"""
import os
import re

import yaml

from . import conditions, notices, paths, types, workflows, yamlfile
from .errors import SchemaError
from .specs import Entity, Field, Option, OptionList, Registry, Role, Setting, UniqueRows

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
ENTITY_KEYS = {"name", "label", "scope", "archive", "title", "fields", "list", "filters", "search", "editable",
               "order", "inline", "related", "menu", "table", "no_import", "unique_rows",
               "versioned", "head", "import_key", "search_inline", "immutable_after", "writers_message",
               "import_ignore"}
FIELD_KEYS = {"name", "type", "label", "required", "unique", "index", "default", "options", "to",
              "max_length", "help", "sensitive", "readonly", "derive", "level", "hidden", "in_list",
              "unique_message", "fixed", "aliases", "renamed_from", "writers"}
RESERVED = {"id", "archived", "archived_at", "created_at", "updated_at", "version"}
SPECIAL_FILES = {"roles.yaml", "settings.yaml", "notices.yaml", "menus.yaml"}
ACTIONS = {"view", "create", "edit", "delete", "export", "restore", "audit", "unmask", "import"}
# system duties of 三员分立: accounts, settings, security (roles, password policy, unlocks), the whole logs
DUTIES = {"users", "settings", "security", "audit_log"}


def _aliases(rel, entity, field, raw):
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(a, (str, int)) for a in raw):
        raise SchemaError(rel, "aliases 应为列名的列表，如 [身份证号码, 公民身份号码]", entity, field)
    return [str(a) for a in raw]


def _renamed_from(rel, entity, field, raw):
    if raw is None:
        return None
    if not isinstance(raw, str) or not NAME.match(raw):
        raise SchemaError(rel, f"renamed_from 应为原字段的英文名（小写字母、数字、下划线），而不是 {raw!r}", entity, field)
    return raw


def _read(path, rel):
    try:
        data = yamlfile.read(path)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"第{mark.line + 1}行第{mark.column + 1}列" if mark else ""
        raise SchemaError(rel, f"YAML 格式错误{where}：{getattr(e, 'problem', e)}") from None
    except UnicodeDecodeError:
        raise SchemaError(rel, "文件不是 UTF-8 编码") from None
    if not isinstance(data, dict):
        raise SchemaError(rel, "文件内容应为一个映射（键: 值）")
    return data


def _yaml_files(folder):
    if not os.path.isdir(folder):
        return []
    return sorted(f for f in os.listdir(folder) if f.endswith((".yaml", ".yml")))


def load(root, derivations=(), calculators=None, effects=None):
    """Compile the schema folder `root` into a Registry. `derivations` are the known derive rules,
    `calculators` the known benefit calculators and `effects` the known workflow effects (None: not
    checked)."""
    options = _load_options(root)
    entities = {}
    for fname in _yaml_files(root):
        if fname in SPECIAL_FILES:
            continue
        rel = os.path.join(os.path.basename(root.rstrip("/")), fname)
        entity = _entity(_read(os.path.join(root, fname), rel), rel)
        if entity.name in entities:
            raise SchemaError(rel, f"实体名 {entity.name} 与 {entities[entity.name].file} 重复",
                              entity.name)
        entities[entity.name] = entity
    roles = _load_roles(root, entities)
    settings = _load_settings(root)
    registry = Registry(entities=entities, options=options, roles=roles, settings=settings, root=root)
    for entity in entities.values():
        _check_fields(entity, registry, set(derivations))
    for entity in entities.values():
        _check_writes(entity, registry)
        _check_structure(entity, registry)
    registry.workflows = workflows.load_workflows(_documents(root, "workflows"), registry, calculators, effects)
    registry.profiles = workflows.load_profiles(_documents(root, "profiles"), registry)
    registry.notices = notices.load_notices(root, registry, _read, _resolve)
    return registry


def _documents(root, sub):
    """(relative path, mapping) for each YAML file of a sub-folder, in name order."""
    folder = os.path.join(root, sub)
    for fname in _yaml_files(folder):
        rel = os.path.join(os.path.basename(root.rstrip("/")), sub, fname)
        yield rel, _read(os.path.join(folder, fname), rel)


def _load_options(root):
    out = {}
    for rel, data in _documents(root, "options"):
        name = data.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise SchemaError(rel, "选项表缺少合法的 name（小写英文、数字、下划线）")
        items = data.get("options")
        if not isinstance(items, list) or not items:
            raise SchemaError(rel, "选项表的 options 应为非空列表", name)
        attributes = _option_attributes(rel, name, data.get("attributes"))
        opts, seen = [], set()
        for i, item in enumerate(items, 1):
            if not isinstance(item, dict) or "code" not in item or "label" not in item:
                raise SchemaError(rel, f"第{i}个选项应有 code 和 label", name)
            code = str(item["code"])
            if code in seen:
                raise SchemaError(rel, f"选项代码 {code} 重复", name)
            seen.add(code)
            aliases = item.get("aliases") or []
            if not isinstance(aliases, list):
                raise SchemaError(rel, f"选项 {code} 的 aliases 应为列表，如 [妻子, 老伴]", name)
            unknown = set(item) - {"code", "label", "aliases"} - set(attributes)
            if unknown:
                raise SchemaError(rel, f"选项 {code} 有未声明的属性：{', '.join(sorted(map(str, unknown)))}"
                                       f"（属性先在 attributes 中声明）", name)
            attrs = {}
            for key, spec in attributes.items():
                if key not in item:
                    continue
                value = item[key]
                if spec["type"] == "bool":
                    if not isinstance(value, bool):
                        raise SchemaError(rel, f"选项 {code} 的属性 {key} 应为 true 或 false", name)
                elif not isinstance(value, (str, int)) or isinstance(value, bool):
                    raise SchemaError(rel, f"选项 {code} 的属性 {key} 应为一个代码或文字", name)
                else:
                    value = str(value)
                attrs[key] = value
            opts.append(Option(code=code, label=str(item["label"]), aliases=[str(a) for a in aliases], attrs=attrs))
        if name in out:
            raise SchemaError(rel, f"选项表 {name} 重复定义", name)
        common = [str(c) for c in data.get("common") or []]
        missing = [c for c in common if c not in seen]
        if missing:
            raise SchemaError(rel, f"common 中的代码不在选项中：{'、'.join(missing)}", name)
        out[name] = OptionList(name=name, label=str(data.get("label") or name), options=opts, file=rel, common=common,
                               attributes=attributes)
    for olist in out.values():
        # an attribute naming another option list holds one of its codes (a certificate kind, a standard kind)
        for key, spec in olist.attributes.items():
            target = spec.get("options")
            if target is None:
                continue
            if target not in out:
                raise SchemaError(olist.file, f"属性 {key} 引用了不存在的选项表 {target}", olist.name)
            for o in olist.options:
                if key in o.attrs and out[target].code_of(o.attrs[key]) is None:
                    raise SchemaError(olist.file, f"选项 {o.code} 的属性 {key}：{o.attrs[key]} 不在选项表 {target} 中",
                                      olist.name)
                if key in o.attrs:
                    o.attrs[key] = out[target].code_of(o.attrs[key])
    return out


ATTRIBUTE_KEYS = {"label", "options", "type"}


def _option_attributes(rel, name, raw):
    """`attributes: {family: {label: 救助大类, options: assistance_family}, single_person: {label: …, type: bool}}`."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SchemaError(rel, "attributes 应为映射（属性名: {label: 中文名, options: 选项表 或 type: bool}）", name)
    out = {}
    for key, spec in raw.items():
        if not isinstance(key, str) or not NAME.match(key) or key in ("code", "label", "aliases"):
            raise SchemaError(rel, f"属性名 {key} 不合法（小写英文、数字、下划线，且不能是 code、label、aliases）", name)
        if not isinstance(spec, dict) or not spec.get("label") or set(spec) - ATTRIBUTE_KEYS or \
                spec.get("type", "text") not in ("text", "bool") or (spec.get("options") and spec.get("type") == "bool"):
            raise SchemaError(rel, f"属性 {key} 应写作 {{label: 中文名}}，可加 options: 选项表 或 type: bool", name)
        out[key] = {"label": str(spec["label"]), "options": spec.get("options"), "type": spec.get("type", "text")}
    return out


def _entity(data, rel):
    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise SchemaError(rel, "缺少合法的实体名 name（小写英文、数字、下划线）")
    unknown = set(data) - ENTITY_KEYS
    if unknown:
        raise SchemaError(rel, f"未知的键：{', '.join(sorted(unknown))}", name)
    if not data.get("label"):
        raise SchemaError(rel, "缺少中文名称 label", name)
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise SchemaError(rel, "fields 应为非空列表（每项一个字段）", name)
    fields, seen = [], set()
    for i, raw in enumerate(raw_fields, 1):
        if not isinstance(raw, dict):
            raise SchemaError(rel, f"第{i}个字段应为映射", name)
        fname = raw.get("name")
        if not isinstance(fname, str) or not NAME.match(fname):
            raise SchemaError(rel, f"第{i}个字段缺少合法的 name", name, str(fname))
        if fname in seen:
            raise SchemaError(rel, "字段重复定义", name, fname)
        if fname in RESERVED:
            raise SchemaError(rel, f"{fname} 是系统保留字段名", name, fname)
        seen.add(fname)
        unknown = set(raw) - FIELD_KEYS
        if unknown:
            raise SchemaError(rel, f"未知的键：{', '.join(sorted(unknown))}", name, fname)
        ftype = raw.get("type")
        if ftype not in types.TYPES:
            raise SchemaError(rel, f"未知的字段类型 {ftype!r}，可用：{', '.join(sorted(types.TYPES))}",
                              name, fname)
        if not raw.get("label"):
            raise SchemaError(rel, "缺少中文名称 label", name, fname)
        ml = raw.get("max_length")
        if ml is not None and (not isinstance(ml, int) or ml <= 0):
            raise SchemaError(rel, "max_length 应为正整数", name, fname)
        if ftype == "area" and raw.get("to") not in (None, "area"):
            raise SchemaError(rel, "area 类型字段总是引用 area，不需要 to", name, fname)
        fields.append(Field(
            name=fname, type=ftype, label=str(raw["label"]), required=bool(raw.get("required")),
            unique=bool(raw.get("unique")), index=bool(raw.get("index")), default=raw.get("default"),
            options=raw.get("options"), to="area" if ftype == "area" else raw.get("to"), max_length=ml, help=raw.get("help"),
            sensitive=bool(raw.get("sensitive")), readonly=bool(raw.get("readonly")),
            derive=raw.get("derive"), level=raw.get("level"), hidden=bool(raw.get("hidden")),
            in_list=raw.get("in_list", True) is not False, unique_message=raw.get("unique_message"),
            fixed=bool(raw.get("fixed")), aliases=_aliases(rel, name, fname, raw.get("aliases")),
            renamed_from=_renamed_from(rel, name, fname, raw.get("renamed_from")),
            writers=_writers(rel, name, fname, raw.get("writers")), entity=name))
    lists = {}
    for key in ("list", "filters", "search", "order", "inline", "related", "editable"):
        value = data.get(key) or []
        if not isinstance(value, list):
            raise SchemaError(rel, f"{key} 应为列表", name)
        lists[key] = [str(x) for x in value]
    return Entity(name=name, label=str(data["label"]), fields=fields, file=rel,
                  scope=data.get("scope"), archive=bool(data.get("archive")), title=data.get("title"),
                  menu=data.get("menu"), table=data.get("table"), search_inline=bool(data.get("search_inline")),
                  no_import=str(data["no_import"]) if data.get("no_import") else None,
                  unique_rows=_unique_rows(data.get("unique_rows"), rel, name, seen),
                  versioned=bool(data.get("versioned", True)), head=_head(rel, name, data.get("head")),
                  immutable_after=data.get("immutable_after"),
                  writers_message=str(data["writers_message"]) if data.get("writers_message") else None,
                  import_key=str(data["import_key"]) if data.get("import_key") else None,
                  import_ignore=_import_ignore(rel, name, data.get("import_ignore")), **lists)


def _import_ignore(rel, name, raw):
    """import_ignore: {column header: why the import leaves it out} — figures an office's roster
    carries that the system derives (保障人数, 月保障金)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                            for k, v in raw.items()):
        raise SchemaError(rel, "import_ignore 应写作 {列名: 不导入的原因}", name)
    return {k.strip(): v.strip() for k, v in raw.items()}


def _unique_rows(raw, rel, name, field_names):
    out = []
    for i, rule in enumerate(raw or [], 1):
        if not isinstance(rule, dict) or not isinstance(rule.get("fields"), list) or not rule["fields"]:
            raise SchemaError(rel, f"unique_rows 第{i}项应有 fields（字段列表）", name)
        where = rule.get("where") or {}
        if not isinstance(where, dict):
            raise SchemaError(rel, f"unique_rows 第{i}项的 where 应为映射（字段: 值）", name)
        for fname in list(rule["fields"]) + list(where):
            if fname not in field_names:
                raise SchemaError(rel, f"unique_rows 第{i}项中的 {fname} 不是字段", name, str(fname))
        if not rule.get("message"):
            raise SchemaError(rel, f"unique_rows 第{i}项缺少 message（重复时给用户看的说明）", name)
        out.append(UniqueRows(name=str(rule.get("name") or f"{name}_{'_'.join(rule['fields'])}_one"),
                              fields=[str(f) for f in rule["fields"]], where=dict(where),
                              message=str(rule["message"])))
    return out


def _writers(rel, entity, field, raw):
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise SchemaError(rel, "writers 应为角色代码或层级（county、township、village）的列表，如 [county]", entity, field)
    return list(raw)


IMMUTABLE_KEYS = {"when", "fields", "except", "field", "message"}
LEVELS = ("county", "township", "village")


def _check_writes(entity, registry):
    """`writers:` name roles or levels; `immutable_after:` names fields and a condition; frozen fields
    are marked on the specs so every path that asks `user_may_write` leaves them out."""
    rel, name = entity.file, entity.name
    for f in entity.fields:
        for who in f.writers or []:
            if who not in registry.roles and who not in LEVELS:
                raise SchemaError(rel, f"writers 中的 {who} 不是角色代码，也不是层级（county、township、village）",
                                  name, f.name)
    rule = entity.immutable_after
    if rule is None:
        return
    example = "immutable_after 应写作 {when: saved 或 条件, message: 提示}，可加 fields 或 except（字段列表）、field"
    if not isinstance(rule, dict) or set(rule) - IMMUTABLE_KEYS or not rule.get("message") or "when" not in rule:
        raise SchemaError(rel, example, name)
    if rule.get("fields") and rule.get("except"):
        raise SchemaError(rel, "immutable_after 的 fields 和 except 只能写一个", name)
    names = {f.name for f in entity.fields}
    listed = [str(x) for x in (rule.get("fields") or rule.get("except") or [])]
    for fname in listed + ([str(rule["field"])] if rule.get("field") else []):
        if fname not in names:
            raise SchemaError(rel, f"immutable_after 中的 {fname} 不是字段", name, fname)
    when = rule["when"]
    if when == "saved":
        condition = None
    elif isinstance(when, dict):
        condition = conditions.build(when, entity, registry, rel, "immutable_after 的 when")
    else:
        raise SchemaError(rel, example, name)
    entity.immutable_after = {"when": "saved" if condition is None else condition, "message": str(rule["message"]),
                              "fields": [str(x) for x in rule.get("fields") or []],
                              "except": [str(x) for x in rule.get("except") or []],
                              "field": str(rule["field"]) if rule.get("field") else None}
    if condition is None:
        frozen = set(listed) if rule.get("fields") else names - set(listed)
        for f in entity.fields:
            f.frozen = f.name in frozen


HEAD_KEYS = {"id", "name", "member", "relation"}


def _head(rel, entity, value):
    """`head: {id: 户主身份证号字段, name: 户主姓名字段, member: 成员实体, relation: 户主的关系代码}`."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != HEAD_KEYS:
        raise SchemaError(rel, "head 应写作 {id: 字段, name: 字段, member: 成员实体, relation: 代码}", entity)
    return {k: str(v) for k, v in value.items()}


def _check_fields(entity, registry, derivations):
    """Each field on its own: types, option lists, references, defaults, derivations."""
    rel, name = entity.file, entity.name
    for f in entity.fields:
        if f.type in ("choice", "checklist"):
            if not f.options:
                raise SchemaError(rel, f"{f.type} 类型字段需要 options（选项表名）", name, f.name)
            if f.options not in registry.options:
                raise SchemaError(rel, f"未知的选项表 {f.options}", name, f.name)
            if f.type == "choice" and f.default is not None and \
                    registry.options[f.options].code_of(f.default) is None:
                raise SchemaError(rel, f"默认值 {f.default} 不在选项表 {f.options} 中", name, f.name)
        elif f.options:
            raise SchemaError(rel, "只有 choice、checklist 类型字段可以有 options", name, f.name)
        if f.type == "ref":
            if not f.to:
                raise SchemaError(rel, "ref 类型字段需要 to（引用的实体）", name, f.name)
            if f.to not in registry.entities:
                raise SchemaError(rel, f"引用了不存在的实体 {f.to}", name, f.name)
        elif f.type == "area":
            if "area" not in registry.entities:
                raise SchemaError(rel, "area 类型字段需要 area 实体", name, f.name)
            if f.level and registry.options.get("area_level") and \
                    registry.options["area_level"].code_of(f.level) is None:
                raise SchemaError(rel, f"未知的区划层级 {f.level}", name, f.name)
        elif f.to and f.type != "area":
            raise SchemaError(rel, "只有 ref 类型字段可以有 to", name, f.name)
        if f.derive and f.derive.split("(")[0].strip() not in derivations:
            raise SchemaError(rel, f"未知的推导规则 {f.derive}，可用：{', '.join(sorted(derivations))}",
                              name, f.name)
        if f.default is not None and f.type not in ("choice", "checklist", "ref", "area"):
            try:
                types.get(f.type).coerce(f.default, f)
            except types.CellError as e:
                raise SchemaError(rel, f"默认值无效：{e}", name, f.name) from None


def _check_structure(entity, registry):
    """Paths across entities: list, filters, search, order, inline, scope, title."""
    rel, name = entity.file, entity.name
    names = {f.name for f in entity.fields}
    for key in ("list", "filters", "search", "editable"):
        for col in getattr(entity, key):
            _check_path(registry, entity, col, key)
    for col in entity.order:
        _check_path(registry, entity, col.lstrip("-"), "order")
    for col in entity.search:
        target = _resolve(registry, entity, col)
        if not types.get(target.type).searchable:
            raise SchemaError(rel, f"search 中的 {col} 是 {target.type} 类型，不能搜索", name, col)
    for path in entity.filters:
        # a list filtered on a column counts its matches: without an index that is a full scan
        entity.field(path.split(".")[0]).index = True
    for col in entity.editable:
        if "." in col or entity.field(col).type in ("ref", "area", "password") or entity.field(col).derive \
                or not entity.field(col).user_may_write(existing=True):
            raise SchemaError(rel, f"editable 中的 {col} 不能在列表中直接修改", name, col)
    for key in ("inline", "related"):
        for child in getattr(entity, key):
            if child not in registry.entities:
                raise SchemaError(rel, f"{key} 中的实体 {child} 不存在", name)
            if not any(f.type == "ref" and f.to == name for f in registry.entities[child].fields):
                raise SchemaError(rel, f"{key} 实体 {child} 没有指向 {name} 的 ref 字段", name)
    if entity.import_key and entity.import_key not in names:
        raise SchemaError(rel, f"import_key {entity.import_key} 不是字段", name)
    if entity.head:
        head = entity.head
        for key in ("id", "name"):
            if head[key] not in names:
                raise SchemaError(rel, f"head 的 {key}: {head[key]} 不是字段", name)
        member = registry.entities.get(head["member"])
        if member is None or not any(f.type == "ref" and f.to == name for f in member.fields) or \
                not {"name", "id_number", "relation"} <= {f.name for f in member.fields}:
            raise SchemaError(rel, f"head 的 member: {head['member']} 应是有 name、id_number、relation 字段"
                                   f"并指向 {name} 的实体", name)
    if entity.scope is None:
        raise SchemaError(rel, "缺少 scope（行所属区划的字段；区划本身写 self）", name)
    if entity.scope != "self":
        target = _resolve(registry, entity, entity.scope, "scope")
        if target.type != "area":
            raise SchemaError(rel, f"scope {entity.scope} 应指向 area 类型字段", name)
    if entity.title:
        for token in re.findall(r"{(\w+)}", entity.title):
            if token not in names:
                raise SchemaError(rel, f"title 中的 {token} 不是字段", name)


def _check_path(registry, entity, path, key):
    _resolve(registry, entity, path, key)


def _resolve(registry, entity, path, key="list"):
    """The Field spec a 'ref.field' path ends on; a bad path is a SchemaError naming the key."""
    try:
        return paths.field_at(registry, entity, path)
    except paths.PathError as e:
        message = f"{key} 中的 {path}：{e.part} 不是引用字段" if e.not_a_ref else f"{key} 中的 {path} 不是字段"
        raise SchemaError(entity.file, message, entity.name, path) from None


def _load_roles(root, entities):
    path = os.path.join(root, "roles.yaml")
    rel = os.path.join(os.path.basename(root.rstrip("/")), "roles.yaml")
    if not os.path.exists(path):
        raise SchemaError(rel, "缺少角色定义文件")
    data = _read(path, rel)
    out = {}
    for i, raw in enumerate(data.get("roles") or [], 1):
        code = raw.get("code") if isinstance(raw, dict) else None
        if not code or not raw.get("label") or raw.get("level") not in ("county", "township", "village"):
            raise SchemaError(rel, f"第{i}个角色应有 code、label 和 level（county/township/village）")
        default = list(raw.get("default") or [])
        per_entity = {k: list(v or []) for k, v in (raw.get("entities") or {}).items()}
        for ename, acts in [("default", default)] + list(per_entity.items()):
            if ename != "default" and ename not in entities:
                raise SchemaError(rel, f"角色 {code} 引用了不存在的实体 {ename}")
            bad = set(acts) - ACTIONS
            if bad:
                raise SchemaError(rel, f"角色 {code} 的权限 {', '.join(sorted(bad))} 未知，"
                                       f"可用：{', '.join(sorted(ACTIONS))}", ename)
        duties = list(raw.get("duties") or [])
        separated = raw.get("separated_duties")
        separated = None if separated is None else list(separated)
        bad = set(duties + (separated or [])) - DUTIES
        if bad:
            raise SchemaError(rel, f"角色 {code} 的职责 {', '.join(sorted(bad))} 未知，可用：{', '.join(sorted(DUTIES))}")
        out[code] = Role(code=code, label=str(raw["label"]), level=raw["level"], default=default,
                         entities=per_entity, duties=duties, separated_duties=separated)
    if not out:
        raise SchemaError(rel, "至少需要一个角色")
    return out


def _load_settings(root):
    path = os.path.join(root, "settings.yaml")
    rel = os.path.join(os.path.basename(root.rstrip("/")), "settings.yaml")
    if not os.path.exists(path):
        return {}
    data = _read(path, rel)
    out = {}
    for i, raw in enumerate(data.get("settings") or [], 1):
        if not isinstance(raw, dict) or not raw.get("key") or not raw.get("label") or "default" not in raw:
            raise SchemaError(rel, f"第{i}个设置应有 key、label 和 default")
        stype = raw.get("type", "int")
        if stype not in types.TYPES:
            raise SchemaError(rel, f"设置 {raw['key']} 的类型 {stype} 未知")
        out[raw["key"]] = Setting(key=raw["key"], label=str(raw["label"]), type=stype,
                                  default=raw["default"], help=raw.get("help"), source=raw.get("source"),
                                  required=raw.get("required", raw["default"] not in ("", None)),
                                  duty=raw.get("duty", "settings"))
        if out[raw["key"]].duty not in DUTIES:
            raise SchemaError(rel, f"设置 {raw['key']} 的 duty {out[raw['key']].duty} 未知")
    return out
