"""The workflow engine: runs the declarations of `schema/workflows/*.yaml` on case records.

Every transition is checked here, on the server (state, role, area, condition, required fields,
materials, a page that went stale), and leaves one `case_step` row: who, when, from which state to
which, the opinion and what was filled in. The case keeps its nearest open deadline in `due_date`
so that overdue and due-soon lists are one indexed query.
"""
import datetime as dt
import json
from dataclasses import dataclass

import peewee as pw

from schema import clock, RecordInvalid, conditions, types
from schema.resolve import DisplayContext

from casework.cases import benefits
from casework.funds import care
from casework.core.errors import Refused  # noqa: F401 (views import it from here)
from casework.core import numbering, scope, system, workdays

STEP = "case_step"


@dataclass
class DeadlineStatus:
    label: str
    start: dt.date | None
    due: dt.date | None
    met_on: dt.date | None = None
    days_left: int | None = None      # working (or calendar) days from today to due; negative: overdue
    warning: str | None = None
    paused: str | None = None         # the pause state the case is in now (its time does not count)
    due_at: dt.datetime | None = None     # hour deadlines (unit: hours): the moment it falls due
    met_at: dt.datetime | None = None     # … and the moment it was met
    hours_left: int | None = None

    @property
    def state(self):
        if self.warning:
            return "unknown"
        if self.paused and not self.met_on:
            return "paused"
        if self.due_at is not None:
            if self.met_at is not None:
                return "met" if self.met_at <= self.due_at else "late"
            return "overdue" if self.hours_left is not None and self.hours_left < 0 else "open"
        if self.met_on:
            return "met" if self.met_on <= self.due else "late"
        return "overdue" if self.days_left is not None and self.days_left < 0 else "open"

    @property
    def text(self):
        if self.warning:
            return self.warning
        if self.due_at is not None:
            limit = f"（限 {self.due_at:%Y-%m-%d %H:%M} 前）"
            if self.met_at is not None:
                return f"{self.met_at:%Y-%m-%d %H:%M} 完成" + ("（按期）" if self.state == "met" else "（逾期）") + limit
            if self.hours_left < 0:
                return f"已逾期 {-self.hours_left} 小时" + limit
            return f"剩余 {self.hours_left} 小时" + limit
        if self.met_on:
            return f"{self.met_on.isoformat()} 完成" + ("（按期）" if self.met_on <= self.due else "（逾期）")
        if self.paused:
            return f"暂停计时（{self.paused}，不计入期限），剩余 {self.days_left} 个工作日"
        if self.days_left < 0:
            return f"已逾期 {-self.days_left} 个工作日"
        return "今天到期" if self.days_left == 0 else f"剩余 {self.days_left} 个工作日"


class Flow:
    """The workflows of one Engine."""

    def __init__(self, engine):
        self.engine, self.models, self.registry = engine, engine.models, engine.registry
        self.settings = engine.settings

    # -- lookups
    def workflow(self, record):
        spec = record._spec
        for wf in self.registry.workflows.values():
            if wf.entity == spec.name:
                return self.registry.workflow_for(spec.name, getattr(record, wf.type_field), record.__data__)
        return None

    def entities(self):
        return {wf.entity for wf in self.registry.workflows.values()}

    def calendar(self):
        if getattr(self, "_calendar", None) is not None:
            return self._calendar
        Day = self.models["calendar_day"] if "calendar_day" in self.registry.entities else None
        overrides = {}
        if Day is not None:
            for day, kind in Day.select(Day.day, Day.kind).tuples():
                overrides[day] = kind == "workday"
        return workdays.Calendar(overrides, workdays.parse_years(self.setting("calendar_confirmed_years")))

    def setting(self, key):
        memo = getattr(self, "_memo", None)
        if memo is None:
            return self.settings.get(key)
        if key not in memo:
            memo[key] = self.settings.get(key)
        return memo[key]

    def breakdown(self, record, month=None):
        """The benefit the case's calculator gives now (None when its type declares none)."""
        wf = self.workflow(record)
        name = wf.calculators.get(getattr(record, wf.type_field)) if wf else None
        return benefits.compute(self.engine, record, name, month) if name else None

    def state_label(self, wf, code):
        spec = self.registry.entities[wf.entity].field(wf.state_field)
        return self.registry.options[spec.options].label_of(code) if code else ""

    def steps(self, record):
        Step = self.models[STEP]
        return list(Step.select().where(Step.case == record.id).order_by(Step.at, Step.id))

    # -- what a user may do now
    def offered(self, record, user, today=None):
        """[(transition, reason)] for the transitions of the current state the user's role may take;
        reason is None when it can be taken now, else why not (a condition not met yet)."""
        wf = self.workflow(record)
        today = today or clock.today()
        if wf is None or user is None or getattr(record, "archived", False):
            return []
        if not scope.allows(self.models, wf.entity, user, record.id):
            return []
        state = getattr(record, wf.state_field)
        out = []
        for t in wf.transitions:
            if state in t.sources and user.role in t.roles:
                ok = conditions.evaluate(t.when, record.__data__, self.setting, today)
                out.append((t, None if ok else (t.when_message or "当前条件尚不满足")))
        return out

    # -- doing it
    def perform(self, record_id, name, user, form, opinion="", seen=None, attachment=None, today=None):
        """Take transition `name` on case `record_id` as `user`. `form` maps field names to raw
        values; `seen` is the id of the last step the user's page showed (stale pages are refused).
        Raises Refused or RecordInvalid and then changes nothing."""
        today = today or clock.today()
        db = self.models.db
        with db.atomic():
            record = self._locked(record_id, user)
            wf = self.workflow(record)
            if wf is None:
                raise Refused("该事项的救助类别没有配置办理流程")
            try:
                t = wf.transition(name)
            except KeyError:
                raise Refused(f"“{wf.label}”流程中没有这项操作") from None
            state = getattr(record, wf.state_field)
            last = self._last_step_id(record)
            if seen is not None and str(seen) != str(last or ""):
                raise Refused(f"该事项已被他人办理（当前为“{self.state_label(wf, state)}”），页面上的内容已过期。"
                              f"请刷新页面，看清最新情况后再操作。")
            if state not in t.sources:
                raise Refused(f"事项当前为“{self.state_label(wf, state)}”，不能执行“{t.label}”")
            if user.role not in t.roles:
                role = self.registry.roles.get(user.role)
                allowed = "、".join(self.registry.roles[r].label for r in t.roles)
                raise Refused(f"您的角色（{role.label if role else user.role}）不能执行“{t.label}”，"
                              f"可执行的角色：{allowed}")
            if not conditions.evaluate(t.when, record.__data__, self.setting, today):
                raise Refused(t.when_message or f"当前条件不满足，不能执行“{t.label}”")
            filled = self._fill(record, wf, t, form, today)
            for fname, value in filled.items():
                f = record._spec.field(fname)
                if f.type in ("ref", "area") and value is not None and \
                        not scope.allows(self.models, f.to or "area", user, value):
                    raise RecordInvalid({fname: f"所选的{f.label}不在您的管辖区划内"})
            opinion = (opinion or "").strip()
            errors = self._check(record, t, today)
            if t.opinion == "required" and not opinion:
                errors["opinion"] = "请填写办理意见"
            if len(opinion) > 2000:
                errors["opinion"] = "办理意见不能超过2000字"
            if errors:
                raise RecordInvalid(errors)
            target = t.target or state
            setattr(record, wf.state_field, target)
            step = self._write_step(record, t.name, t.label, state, target, user, opinion, filled, attachment, today)
            self.refresh(record, today)
            if target != state and target in wf.closing_states():
                self._record_outcome(record, today)
            record._moved_by_flow = True
            try:
                record.save()
            finally:
                record._moved_by_flow = False
            for name in (wf.effects.get(target, []) if target != state else []) + t.effects:
                care.EFFECTS[name](self, record, user, today)
        return step

    def _record_outcome(self, record, today):
        """How long the case took (working days from the application) and whether any deadline was
        missed, kept on the case for the processing-time statistics."""
        spec = record._spec
        if spec.has_field("processing_days") and getattr(record, "apply_date", None):
            try:
                record.processing_days = self.calendar().working_days_between(record.apply_date, today)
            except workdays.CalendarUnknown:
                record.processing_days = None
        if spec.has_field("decided_late"):
            record.decided_late = any(d.state == "late" for d in self.deadlines(record, today))

    def _locked(self, record_id, user):
        Case = self.case_model()
        query = scope.scoped(self.models, Case._spec.name, user).where(Case.id == record_id)
        if isinstance(self.models.db, pw.PostgresqlDatabase):
            query = query.for_update()
        record = query.first()
        if record is None:
            raise Refused("找不到该事项，或它不在您的管辖区划内")
        return record

    def _entity_of_steps(self):
        return self.registry.entities[STEP].field("case").to

    def _last_step_id(self, record):
        Step = self.models[STEP]
        return Step.select(pw.fn.MAX(Step.id)).where(Step.case == record.id).scalar()

    def _fill(self, record, wf, t, form, today):
        """Coerce the form's values into the record; then the transition's `sets`."""
        spec, ctx = record._spec, DisplayContext(self.registry)
        errors, filled = {}, {}
        for fname in t.fields:
            f = spec.field(fname)
            raw = form.get(fname)
            if raw in (None, "") and fname in t.defaults:
                raw = today.isoformat() if t.defaults[fname] == "today" else t.defaults[fname]
            try:
                value = types.get(f.type).parse(raw, _optional(f), ctx) if f.type in ("choice", "checklist") \
                    else types.get(f.type).coerce(raw, f)
            except types.CellError as e:
                errors[fname] = str(e)
                continue
            setattr(record, fname, value)
            filled[fname] = value
        if errors:
            raise RecordInvalid(errors)
        for fname, value in t.sets.items():
            if value == "today":
                value = today
            elif isinstance(value, dict):              # a period of natural days, counted by the civil code
                start = getattr(record, value["after"]) if value.get("after") else today
                value = self.calendar().period_end_or_unrolled(start or today, self.setting(value["period"]))
            setattr(record, fname, value)
            filled[fname] = value
        return filled

    def _check(self, record, t, today):
        spec = record._spec
        errors = {}
        for fname in t.requires:
            if getattr(record, fname) in (None, ""):
                errors[fname] = "此项为必填项" if fname in t.fields else "此前的环节尚未填写此项"
        for fname, codes in t.checked.items():
            have = set(types.get("checklist").codes(getattr(record, fname)))
            missing = [c for c in codes if c not in have]
            if missing:
                labels = self.registry.options[spec.field(fname).options].labels
                errors[fname] = ("缺少材料：" + "、".join(labels[c] for c in missing) +
                                 "。请一次性告知申请人补齐（可打印一次性告知书），补齐后在事项中勾选")
        if not errors and not conditions.evaluate(t.check, record.__data__, self.setting, today):
            errors["__all__"] = t.check_message or f"填写的内容不满足“{t.label}”的条件"
        if not errors and t.eligible:
            result = self.breakdown(record)
            if result is not None and result.eligible is False:
                errors["__all__"] = f"不能“{t.label}”：{result.reason}"
        return errors

    def _write_step(self, record, action, label, source, target, user, opinion, filled, attachment, today):
        Step = self.models[STEP]
        plain = {k: system._plain(v) for k, v in filled.items()}
        step = Step(case=record.id, action=action, action_label=label, from_state=source, to_state=target,
                    actor=user.id if user else None, actor_name=user.full_name if user else "系统",
                    actor_role=user.role if user else None,
                    at=dt.datetime.combine(today, clock.now().time()), opinion=opinion or None,
                    changes=json.dumps(plain, ensure_ascii=False) if plain else None,
                    attachment=attachment)
        step.save()
        return step

    # -- deadlines
    def deadlines(self, record, today=None, steps=None):
        wf = self.workflow(record)
        if wf is None:
            return []
        today = today or clock.today()
        steps = self.steps(record) if steps is None else steps
        filled = [set(json.loads(s.changes)) if s.changes else set() for s in steps]
        closed = getattr(record, wf.state_field) in wf.closing_states()
        cal = self.calendar()
        out = []
        for d in wf.deadlines:
            if d.unit == "hours":
                status = self._hour_deadline(record, d, steps, closed, today)
                if status is not None:
                    out.append(status)
                continue
            # a deadline runs from its start to the first step after it that reaches an `until` state
            if record._spec.has_field(d.start):
                start = getattr(record, d.start)
                first = max((i for i, keys in enumerate(filled) if d.start in keys), default=0)
            else:
                first = max((i for i, s in enumerate(steps) if s.to_state == d.start), default=None)
                start = steps[first].at.date() if first is not None else None
                first = first + 1 if first is not None else None
            if start is None:
                continue
            met_at = next((i for i, s in enumerate(steps) if i >= (first or 0) and s.to_state in d.until), None)
            met = steps[met_at].at.date() if met_at is not None else None
            try:
                n = self.setting(d.days)
                if d.pauses:
                    n += self._paused(d, steps[first or 0:met_at], cal, met or today)
                due = cal.add_working_days(start, n) if d.unit == "working" else start + dt.timedelta(days=n)
                status = DeadlineStatus(d.label, start, due, met_on=met)
                state = getattr(record, wf.state_field)
                if met is None and state in d.pauses:
                    status.paused = self.state_label(wf, state)
                if met is None:
                    if closed:
                        continue            # decided another way: this deadline no longer runs
                    status.days_left = (cal.working_days_between(today, due) if d.unit == "working"
                                        else (due - today).days)
            except workdays.CalendarUnknown as e:
                if met is None and closed:
                    continue
                status = DeadlineStatus(d.label, start, None, met_on=met, warning=str(e))
            out.append(status)
        return out

    def _hour_deadline(self, record, d, steps, closed, today):
        """A limit in hours from a recorded moment (先行救助 within 24 hours of the report): met by the
        moment in its `met` field, else by the first step reaching an `until` state."""
        start = getattr(record, d.start)
        if start is None:
            return None
        due_at = start + dt.timedelta(hours=self.setting(d.days))
        met_at = getattr(record, d.met) if d.met else next(
            (s.at for s in steps if s.to_state in d.until and s.at >= start), None)
        status = DeadlineStatus(d.label, start.date(), due_at.date(), met_on=met_at.date() if met_at else None,
                                due_at=due_at, met_at=met_at)
        if met_at is None:
            if closed:
                return None
            now = dt.datetime.combine(today, clock.now().time())
            status.hours_left = int((due_at - now).total_seconds() // 3600)
            status.days_left = (due_at.date() - today).days
        return status

    @staticmethod
    def _paused(d, steps, cal, until):
        """Days spent in the deadline's pause states (e.g. 民主评议) between its start and `until`:
        from the day a step entered a pause state to the day a step left it (or `until`), counted
        like the deadline (working days after the entering day, or calendar days)."""
        total, since = 0, None
        for s in steps:
            inside = s.to_state in d.pauses
            if inside and since is None:
                since = s.at.date()
            elif not inside and since is not None:
                total += _days(cal, d.unit, since, s.at.date())
                since = None
        if since is not None:
            total += _days(cal, d.unit, since, max(until, since))
        return total

    def refresh(self, record, today=None):
        """Keep the nearest open deadline on the record (for the overdue and due-soon lists)."""
        open_ = [d for d in self.deadlines(record, today) if not d.met_on and not d.paused]
        unknown = [d for d in open_ if d.warning]
        dated = sorted((d for d in open_ if d.due), key=lambda d: d.due)
        if dated:
            record.due_date, record.due_item = dated[0].due, dated[0].label
        elif unknown:
            record.due_date, record.due_item = None, f"{unknown[0].label}：期限无法计算（节假日未录入）"
        else:
            record.due_date, record.due_item = None, None

    # -- lists: one indexed range on due_date, within the user's scope
    def overdue(self, user, today=None):
        Case = self.case_model()
        today = today or clock.today()
        return scope.scoped(self.models, Case._spec.name, user).where(Case.due_date < today)

    def overdue_everywhere(self, today=None):
        """Every township's overdue cases: for the command line and scheduled jobs, not for pages."""
        Case = self.case_model()
        query = Case.select().where(Case.due_date < (today or clock.today()))
        return query.where(Case.archived == False) if Case._spec.archive else query  # noqa: E712

    def refresh_all(self):
        """Recompute every open case's deadline (after the calendar or a deadline setting changed)."""
        Case = self.case_model()
        changed = 0
        query = Case.select().where(Case.state.not_in(self.registry.final_states(Case._spec.name))).order_by(Case.id)
        self._memo, self._calendar = {}, self.calendar()
        try:
            with self.models.db.atomic():
                for record in list(query):
                    before = (record.due_date, record.due_item)
                    self.refresh(record)
                    if (record.due_date, record.due_item) != before:
                        Case.update(due_date=record.due_date, due_item=record.due_item).where(
                            Case.id == record.id).execute()
                        changed += 1
        finally:
            self._memo = self._calendar = None
        return changed

    def due_soon(self, user, today=None):
        Case = self.case_model()
        today = today or clock.today()
        try:
            until = self.calendar().add_working_days(today, self.setting("due_soon_days"))
        except workdays.CalendarUnknown:
            until = today + dt.timedelta(days=self.setting("due_soon_days"))
        return scope.scoped(self.models, Case._spec.name, user).where(Case.due_date.between(today, until))

    def case_model(self):
        return self.models[self._entity_of_steps()]

    def _with_places(self, query):
        Case, Area = self.case_model(), self.models["area"]
        Village, Township = Area.alias(), Area.alias()
        return (query.join(Village, on=(Case.village == Village.id))
                .join(Township, on=(Village.parent == Township.id))), Village, Township

    def by_township(self, query):
        """{township name: count} for a list query."""
        Case = self.case_model()
        query, _, township = self._with_places(query.select(Case.id))
        rows = (query.select(township.code, township.name, pw.fn.COUNT(Case.id))
                .group_by(township.code, township.name).order_by(township.code).tuples())
        return [(code, name, n) for code, name, n in rows]

    def rows(self, query, limit=500, township_code=None):
        """Cases of a list query with their village and township, nearest deadline first."""
        Case = self.case_model()
        query, village, township = self._with_places(query)
        if township_code:
            query = query.where(township.code == township_code)
        return list(query.select(Case.id, Case.case_no, Case.applicant_name, Case.assistance_type, Case.state,
                                 Case.due_date, Case.due_item, village.name.alias("village"),
                                 township.name.alias("township"), township.code.alias("township_code"))
                    .order_by(Case.due_date, Case.id).limit(limit).dicts())

    def _keep_fixed(self, record, old):
        """What a case is about (household, applicant, type, the near-relative filing, the dates its
        deadlines start from) is `fixed` once accepted: only a signed correction step changes it."""
        changed = [f for f in record._spec.fields if f.fixed and record.__data__.get(f.name) != old.get(f.name)]
        if changed:
            wf = self.workflow(record)
            fix = next((t for t in wf.transitions if set(t.fields) & {f.name for f in changed}), None) if wf else None
            how = f"如需更正，请在事项页办理“{fix.label}”并写明理由" if fix else "如需更正，请撤回后重新受理"
            raise RecordInvalid({changed[0].name: f"事项受理后不能修改{'、'.join(f.label for f in changed)}；{how}"})

    # -- creation: the first step
    def install(self):
        flow = self
        entities = self.entities()
        hooks = self.models.hooks

        @hooks.on(entities, "before_save")
        def before(record, old):
            wf = flow.workflow(record)
            if wf is None:
                raise RecordInvalid({"assistance_type": "该救助类别没有配置办理流程，请联系县级管理员"})
            for d in wf.deadlines:
                begun, done = (getattr(record, d.start, None), getattr(record, d.met)) if d.met else (None, None)
                if begun and done and done < begun:
                    spec = record._spec
                    raise RecordInvalid({d.met: f"{spec.field(d.met).label}不能早于{spec.field(d.start).label}"})
            if old is None:
                missing = [record._spec.field(f).label for f in wf.create_requires if getattr(record, f) in (None, "")]
                if missing:
                    raise RecordInvalid({wf.create_requires[0]: f"“{wf.label}”登记时须填写：" + "、".join(missing)})
                setattr(record, wf.state_field, wf.start)
                if record._spec.has_field("case_no") and not record.case_no:
                    record.case_no = flow._number(record)
            else:
                moving = getattr(record, "_moved_by_flow", False)
                if not moving and old.get(wf.state_field) in wf.closing_states():
                    label = flow.state_label(wf, old.get(wf.state_field))
                    raise RecordInvalid({wf.state_field: f"事项已办结（{label}），不能再修改；如需变更，请重新受理一件申请"})
                before_wf = flow.registry.workflow_for(wf.entity, old.get(wf.type_field), old)
                if before_wf is not wf:
                    raise RecordInvalid({wf.type_field: "已受理的事项不能改为另一流程的救助类别；请撤回后重新受理"})
                if not moving:
                    flow._keep_fixed(record, old)
                if not moving:
                    setattr(record, wf.state_field, old.get(wf.state_field))    # only transitions move it

        # a day off or a working day entered: every open deadline moves
        hooks.on("calendar_day", "after_change", lambda record, action, old: flow.refresh_all())

        @hooks.on(entities, "after_change")
        def after(record, action, old):
            if action != "create":
                return
            wf = flow.workflow(record)
            user = flow._actor()
            flow._write_step(record, "register", "受理登记", None, wf.start, user, None, {}, None, clock.today())
            for name in wf.effects.get(wf.start, []):      # what registering itself does (先行救助 paid)
                care.EFFECTS[name](flow, record, user, clock.today())
            flow.refresh(record)
            type(record).update(due_date=record.due_date, due_item=record.due_item).where(
                type(record).id == record.id).execute()

    def _actor(self):
        who = system.actor.get()
        if not who or who[0] is None:
            return None
        return self.models["user"].get_or_none(id=who[0])

    def _number(self, record):
        """<township code>-<year>-<serial>: the township's count of cases that year, plus one."""
        code = numbering.township_code(self.models, record.__data__.get("village"))
        prefix = f"{code}-{(record.apply_date or clock.today()).year}-"
        return numbering.next_number(type(record).case_no, prefix, 5)


def _days(cal, unit, start, end):
    return cal.working_days_between(start, end) if unit == "working" else (end - start).days


def _optional(spec):
    """A form leaves a field blank; whether that is allowed is the transition's `requires`."""
    from dataclasses import replace
    return replace(spec, required=False)
