"""Compile `workflows/*.yaml` (one file per case type) and `profiles/*.yaml` (named sets of settings).

A workflow may carry `match:` (a condition on the record, e.g. a case's purpose): it then takes the
records of its types that match, before the workflow without `match` for the same types.
A workflow may `extends:` another: it takes the other's transitions and deadlines, and a
transition or deadline of the same name replaces the inherited one (`drop:` removes some).
Everything is checked against the entity it runs on: states in the state field's option list,
fields, roles, settings, type codes; an error names the file and the key.
`states:` lists the states a workflow uses; those marked `final: true` end a case (decided, closed):
no transition may leave them (a step that only records, `to: same`, still may), and the modules and
reports that ask "is this case still open?" read them instead of a list of state codes.
"""
from . import conditions, types
from .errors import SchemaError
from .specs import Deadline, Profile, Transition, Workflow

WORKFLOW_KEYS = {"name", "label", "entity", "type_field", "state_field", "types", "start", "transitions",
                 "deadlines", "create_requires", "extends", "drop", "calculator", "prefill",
                 "effects", "match", "states"}
TRANSITION_KEYS = {"name", "label", "from", "to", "roles", "fields", "requires", "checked", "when",
                   "when_message", "check", "check_message", "sets", "opinion", "style", "effects", "computed", "eligible", "defaults"}
DEADLINE_KEYS = {"name", "label", "from", "until", "days", "unit", "pauses", "met"}


def load_workflows(documents, registry, calculators=None, effects=None):
    """documents: (relative path, mapping) per file of the workflows folder; calculators: the known
    calculator names (None: not checked)."""
    raw = {}
    for rel, data in documents:
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaError(rel, "流程缺少 name")
        if name in raw:
            raise SchemaError(rel, f"流程 {name} 与 {raw[name][1]} 重名")
        unknown = set(data) - WORKFLOW_KEYS
        if unknown:
            raise SchemaError(rel, f"流程 {name} 有未知的键：{', '.join(sorted(unknown))}")
        raw[name] = (data, rel)
    out, claimed = {}, {}
    for name in raw:
        wf = _workflow(name, raw, registry, [], calculators, effects)
        for code in wf.types:
            # one workflow per type, plus any number that apply only to records matching their `match`
            key = (wf.entity, code, repr(wf.match))
            if key in claimed:
                raise SchemaError(wf.file, f"救助类别 {code} 已由流程 {claimed[key]} 办理，"
                                           f"一个类别只能有一个流程（另一流程可用 match 限定适用的事项）")
            claimed[key] = name
        out[name] = wf
    return out


def _merged(name, raw, stack):
    data, rel = raw[name]
    parent = data.get("extends")
    if not parent:
        return dict(data), rel
    if parent not in raw:
        raise SchemaError(rel, f"流程 {name} 继承的流程 {parent} 不存在")
    if parent in stack:
        raise SchemaError(rel, f"流程继承成环：{' → '.join(stack + [name, parent])}")
    base, _ = _merged(parent, raw, stack + [name])
    merged = {**base, **{k: v for k, v in data.items() if k not in ("transitions", "deadlines")}}
    drop = set(data.get("drop") or [])
    for key in ("transitions", "deadlines"):
        own = {item.get("name"): item for item in data.get(key) or [] if isinstance(item, dict)}
        items = [own.pop(i.get("name"), i) for i in base.get(key) or [] if i.get("name") not in drop]
        merged[key] = items + list(own.values())
    return merged, rel


def _workflow(name, raw, registry, stack, calculators=None, known_effects=None):
    data, rel = _merged(name, raw, stack)
    entity_name = data.get("entity")
    if entity_name not in registry.entities:
        raise SchemaError(rel, f"流程 {name} 的 entity {entity_name} 不存在")
    entity = registry.entities[entity_name]

    def field(fname, where, kind=None):
        if not entity.has_field(str(fname)):
            raise SchemaError(rel, f"流程 {name} 的 {where} 引用了不存在的字段 {fname}", entity.name, str(fname))
        f = entity.field(fname)
        if kind and f.type not in kind:
            raise SchemaError(rel, f"流程 {name} 的 {where}：字段 {fname} 应为 {'/'.join(kind)} 类型",
                              entity.name, fname)
        return f

    type_field = field(data.get("type_field", "assistance_type"), "type_field", ("choice",))
    state_field = field(data.get("state_field", "state"), "state_field", ("choice",))
    states = registry.options[state_field.options]
    type_codes = registry.options[type_field.options]

    def state(code, where):
        if states.code_of(code) is None:
            raise SchemaError(rel, f"流程 {name} 的 {where} 状态 {code} 不在选项表 {states.name} 中")
        return states.code_of(code)

    types_ = _types(data.get("types"), type_codes, name, rel, type_field)
    transitions, seen = [], set()
    for i, t in enumerate(data.get("transitions") or [], 1):
        transitions.append(_transition(t, i, name, rel, entity, registry, field, state, known_effects))
        if transitions[-1].name in seen:
            raise SchemaError(rel, f"流程 {name} 的操作 {transitions[-1].name} 重复")
        seen.add(transitions[-1].name)
    if not transitions:
        raise SchemaError(rel, f"流程 {name} 没有任何操作（transitions）")
    deadlines = []
    for i, d in enumerate(data.get("deadlines") or [], 1):
        if not isinstance(d, dict) or set(d) - DEADLINE_KEYS or not all(d.get(k) for k in ("name", "label", "from", "until", "days")):
            raise SchemaError(rel, f"流程 {name} 的第{i}个期限应有 name、label、from、until、days")
        start, unit = d["from"], d.get("unit", "working")
        if unit not in ("working", "calendar", "hours"):
            raise SchemaError(rel, f"流程 {name} 的期限 {d['name']}：unit 只能是 working、calendar 或 hours")
        moment = "datetime" if unit == "hours" else "date"
        if not (entity.has_field(start) and entity.field(start).type == moment):
            if unit == "hours":
                raise SchemaError(rel, f"流程 {name} 的期限 {d['name']}：按小时计的期限，from 应为日期时间字段")
            start = state(start, f"期限 {d['name']} 的 from")
        met = d.get("met")
        if met is not None and not (entity.has_field(met) and entity.field(met).type == "datetime"):
            raise SchemaError(rel, f"流程 {name} 的期限 {d['name']}：met 应为日期时间字段，{met} 不是")
        if d["days"] not in registry.settings or registry.settings[d["days"]].type != "int":
            raise SchemaError(rel, f"流程 {name} 的期限 {d['name']}：days 应为整数设置项的 key，{d['days']} 不是")
        deadlines.append(Deadline(name=d["name"], label=str(d["label"]), start=start,
                                  until=[state(s, f"期限 {d['name']} 的 until") for s in d["until"]],
                                  days=d["days"], unit=unit,
                                  pauses=[state(s, f"期限 {d['name']} 的 pauses") for s in d.get("pauses") or []],
                                  met=met))
    calc = data.get("calculator")
    if calc is None and "calculator" in type_codes.attributes:
        # each type says how it is calculated (assistance_type.yaml's `calculator` attribute)
        calc = {code: type_codes.attr(code, "calculator") for code in types_ if type_codes.attr(code, "calculator")}
    calc = calc or {}
    calc = {code: calc for code in types_} if isinstance(calc, str) else {str(k): v for k, v in calc.items()}
    for code, calc_name in calc.items():
        if code not in types_:
            raise SchemaError(rel, f"流程 {name} 的 calculator 中的类别 {code} 不在 types 中")
        if calculators is not None and calc_name not in calculators:
            raise SchemaError(rel, f"流程 {name} 的测算方法 {calc_name} 不存在，可用：{', '.join(sorted(calculators))}")
    prefill = [field(f, "prefill", ("money",)).name for f in data.get("prefill") or []]
    declared, finals = _states(data.get("states"), name, rel, state)
    if declared is not None:
        used = [("start", data.get("start"))] + [
            (f"操作 {t.name}", s) for t in transitions for s in t.sources + ([t.target] if t.target else [])] + [
            (f"期限 {d.name}", s) for d in deadlines
            for s in d.until + d.pauses + ([] if entity.has_field(d.start) else [d.start])]
        for where, code in used:
            if state(code, where) not in declared:
                raise SchemaError(rel, f"流程 {name} 的{where}使用的状态 {code} 不在 states 中")
        for t in transitions:
            out_of = [s for s in t.sources if s in finals and t.target not in ("", s)]
            if out_of:
                raise SchemaError(rel, f"流程 {name} 的操作 {t.name}：不能从办结状态 "
                                       f"{'、'.join(f'{s}（{states.label_of(s)}）' for s in out_of)}转出"
                                       f"（该状态标了 final: true）")
    effects = {}
    for code, names in (data.get("effects") or {}).items():
        names = [names] if isinstance(names, str) else list(names or [])
        for effect_name in names:
            if known_effects is not None and effect_name not in known_effects:
                raise SchemaError(rel, f"流程 {name} 的效果 {effect_name} 不存在，可用：{', '.join(sorted(known_effects))}")
        effects[state(code, "effects")] = names
    return Workflow(name=name, label=str(data.get("label") or name), entity=entity_name,
                    calculators=calc, prefill=prefill, effects=effects, states=declared, finals=finals,
                    type_field=type_field.name, state_field=state_field.name, types=types_,
                    start=state(data.get("start"), "start"), transitions=transitions, deadlines=deadlines,
                    create_requires=[field(f, "create_requires").name for f in data.get("create_requires") or []],
                    match=conditions.build(data.get("match"), entity, registry, rel, f"流程 {name} 的 match"),
                    file=rel)


def _states(raw, name, rel, state):
    """`states: [accepted, …, {name: approved, final: true}]` → ([codes], {final codes}); (None, None)
    when not declared (the closing states are then those no transition leaves)."""
    if raw is None:
        return None, None
    if not isinstance(raw, list) or not raw:
        raise SchemaError(rel, f"流程 {name} 的 states 应为非空列表，如 [accepted, {{name: approved, final: true}}]")
    codes, finals = [], set()
    for i, item in enumerate(raw, 1):
        if isinstance(item, dict):
            if not item.get("name") or set(item) - {"name", "final"}:
                raise SchemaError(rel, f"流程 {name} 的 states 第{i}项应写作 状态 或 {{name: 状态, final: true}}")
            code, final = state(item["name"], "states 中"), bool(item.get("final"))
        else:
            code, final = state(item, "states 中"), False
        if code in codes:
            raise SchemaError(rel, f"流程 {name} 的 states 中状态 {code} 重复")
        codes.append(code)
        if final:
            finals.add(code)
    return codes, finals


def _types(raw, type_codes, name, rel, type_field):
    """`types:` lists codes (["31"]) or names option attributes ({family: dibao}, {family: [dibao, tekun]}):
    a type added to the option list with those attributes joins the workflow with no edit here."""
    if isinstance(raw, dict):
        codes = []
        for key, wanted in raw.items():
            if key not in type_codes.attributes:
                raise SchemaError(rel, f"流程 {name} 的 types 中的 {key} 不是选项表 {type_codes.name} 的属性，"
                                       f"可用：{'、'.join(type_codes.attributes) or '无'}")
            for value in wanted if isinstance(wanted, list) else [wanted]:
                found = type_codes.codes_with(**{key: value})
                if not found:
                    raise SchemaError(rel, f"流程 {name} 的 types：选项表 {type_codes.name} 中没有 {key} 为 {value} 的类别")
                codes += [c for c in found if c not in codes]
        types_ = [c for c in type_codes.labels if c in codes]
    else:
        types_ = [str(t) for t in raw or []]
    if not types_:
        raise SchemaError(rel, f"流程 {name} 缺少 types（适用的{type_field.label}代码，或按属性选取，如 {{family: dibao}}）")
    for code in types_:
        if type_codes.code_of(code) is None:
            raise SchemaError(rel, f"流程 {name} 的类别 {code} 不在选项表 {type_codes.name} 中")
    return types_


def _transition(t, i, wf_name, rel, entity, registry, field, state, known_effects=None):
    if not isinstance(t, dict) or not t.get("name") or not t.get("label"):
        raise SchemaError(rel, f"流程 {wf_name} 的第{i}个操作应有 name 和 label")
    where = f"操作 {t['name']}"
    unknown = set(t) - TRANSITION_KEYS
    if unknown:
        raise SchemaError(rel, f"流程 {wf_name} 的{where}有未知的键：{', '.join(sorted(unknown))}")
    sources = t.get("from")
    sources = [sources] if isinstance(sources, str) else sources or []
    if not sources or not t.get("to"):
        raise SchemaError(rel, f"流程 {wf_name} 的{where}应有 from 和 to")
    roles = t.get("roles") or []
    for role in roles:
        if role not in registry.roles:
            raise SchemaError(rel, f"流程 {wf_name} 的{where}引用了不存在的角色 {role}")
    if not roles:
        raise SchemaError(rel, f"流程 {wf_name} 的{where}应列出可操作的角色 roles")
    checked = {}
    for fname, codes in (t.get("checked") or {}).items():
        f = field(fname, where, ("checklist",))
        for code in codes:
            if registry.options[f.options].code_of(code) is None:
                raise SchemaError(rel, f"流程 {wf_name} 的{where}：{code} 不在选项表 {f.options} 中",
                                  entity.name, fname)
        checked[fname] = [registry.options[f.options].code_of(c) for c in codes]
    sets = {}
    for fname, value in (t.get("sets") or {}).items():
        f = field(fname, f"{where} 的 sets")
        if isinstance(value, dict):
            key, after = value.get("period"), value.get("after")
            if not set(value) <= {"period", "after"} or key not in registry.settings or f.type != "date" or (
                    after is not None and not (entity.has_field(after) and entity.field(after).type == "date")):
                raise SchemaError(rel, f"流程 {wf_name} 的{where}：sets 中 {fname} 写作 {{period: 设置项}} 或 "
                                       f"{{period: 设置项, after: 日期字段}}，且只能用于日期字段", entity.name, fname)
        elif value is not None and value != "today":          # None (null) empties the field
            value = conditions._literal(value, f, registry, rel, where)
        sets[fname] = value
    defaults = {}
    for fname, value in (t.get("defaults") or {}).items():
        f = field(fname, f"{where} 的 defaults")
        if fname not in (t.get("fields") or []):
            raise SchemaError(rel, f"流程 {wf_name} 的{where}：defaults 中的 {fname} 不在 fields 中", entity.name, fname)
        defaults[fname] = value if value == "today" else conditions._literal(value, f, registry, rel, where)
    effects = [t["effects"]] if isinstance(t.get("effects"), str) else list(t.get("effects") or [])
    for effect_name in effects:
        if known_effects is not None and effect_name not in known_effects:
            raise SchemaError(rel, f"流程 {wf_name} 的{where}：效果 {effect_name} 不存在，可用：{', '.join(sorted(known_effects))}")
    opinion = t.get("opinion", "optional")
    if opinion not in ("optional", "required"):
        raise SchemaError(rel, f"流程 {wf_name} 的{where}：opinion 只能是 optional 或 required")
    return Transition(
        name=t["name"], label=str(t["label"]), sources=[state(s, where) for s in sources],
        target="" if t["to"] == "same" else state(t["to"], where), roles=roles,
        fields=[field(f, f"{where} 的 fields").name for f in t.get("fields") or []],
        requires=[field(f, f"{where} 的 requires").name for f in t.get("requires") or []],
        checked=checked, sets=sets, opinion=opinion, style=t.get("style", "primary"), effects=effects,
        computed=[field(f, f"{where} 的 computed", ("money",)).name for f in t.get("computed") or []],
        when=conditions.build(t.get("when"), entity, registry, rel, where),
        when_message=t.get("when_message"),
        check=conditions.build(t.get("check"), entity, registry, rel, where),
        check_message=t.get("check_message"), eligible=bool(t.get("eligible", False)), defaults=defaults)


def load_profiles(documents, registry):
    out = {}
    for rel, data in documents:
        name, values = data.get("name"), data.get("values")
        if not name or not isinstance(values, dict):
            raise SchemaError(rel, "设置方案应有 name、label 和 values（设置项: 值）")
        for key in values:
            if key not in registry.settings:
                raise SchemaError(rel, f"设置方案 {name} 中的 {key} 不是设置项")
            spec = registry.settings[key]
            try:
                types.get(spec.type).coerce(values[key], spec)
            except types.CellError as e:
                raise SchemaError(rel, f"设置方案 {name} 中 {key} 的值无效：{e}") from None
        out[name] = Profile(name=name, label=str(data.get("label") or name), values=values, file=rel)
    return out
