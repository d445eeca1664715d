"""Specs → peewee models. Every model shares one base: id, timestamps, hooks, archiving.

Hooks let the layers above (derivations, audit) see every save, archive and delete without the
schema package knowing about them: forms, inline rows, imports and scripts all pass through here.
"""
import datetime as dt
import io
from decimal import Decimal
from urllib.parse import urlparse

import peewee as pw
from playhouse import db_url

from . import clock, types
from .errors import SchemaError, StaleRecord


class _Chain(list):
    """A list of hooks that tells its owner when it changes (the per-entity plans are then rebuilt)."""

    def __init__(self, changed):
        super().__init__()
        self._changed = changed

    def append(self, fn):
        self._changed()
        super().append(fn)

    def insert(self, index, fn):
        self._changed()
        super().insert(index, fn)

    def extend(self, fns):
        self._changed()
        super().extend(fns)

    def remove(self, fn):
        self._changed()
        super().remove(fn)


class _ForEntities:
    """A hook registered for some entities only."""

    def __init__(self, entities, fn):
        self.entities, self.fn = entities, fn


class Hooks:
    """Save events: before_save(record, old) and after_change(record, action, old); old is a dict or None.

    `before` and `after` hold the hooks of every entity (audit, derivations, row scope); a rule about
    one entity registers once by name, playhouse.signals style:

        @models.hooks.on("care_change", "before_save")
        def check(record, old): ...

    and runs only for that entity's records, in registration order among the others. The hooks that
    apply to an entity are worked out once per entity (again only when a hook is added or removed),
    so a save does not call every rule of every table to have it test the entity's name."""

    EVENTS = {"before_save": "before", "after_change": "after"}

    def __init__(self):
        self._plans = {}
        self.before = _Chain(self._plans.clear)
        self.after = _Chain(self._plans.clear)

    def on(self, entities, event, fn=None, first=False):
        """Register fn for the entity (a name, or several) on event "before_save" or "after_change";
        without fn, a decorator. `first`: before every hook registered so far."""
        if event not in self.EVENTS:
            raise ValueError(f"unknown event {event!r}: {', '.join(self.EVENTS)}")
        names = frozenset([entities] if isinstance(entities, str) else entities)

        def add(fn):
            chain = getattr(self, self.EVENTS[event])
            entry = _ForEntities(names, fn)
            chain.insert(0, entry) if first else chain.append(entry)
            return fn
        return add(fn) if fn is not None else add

    def plan(self, kind, entity):
        key = (kind, entity)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = tuple(
                h.fn if isinstance(h, _ForEntities) else h for h in getattr(self, kind)
                if not isinstance(h, _ForEntities) or entity in h.entities)
        return plan

    def run_before(self, record, old):
        for fn in self.plan("before", record._spec.name):
            fn(record, old)

    def run_after(self, record, action, old):
        for fn in self.plan("after", record._spec.name):
            fn(record, action, old)


class Record(pw.Model):
    """Base of every generated model."""
    _spec = None
    _hooks = None

    def snapshot(self):
        return dict(self.__data__)

    def save(self, force_insert=False, only=None):
        model = type(self)
        created = force_insert or self._pk is None
        expected = self.__dict__.pop("_expected_version", None)
        versioned = model._spec.versioned
        old = None
        # one transaction from the read of the stored row to the audit row: on SQLite it begins
        # IMMEDIATE (make_database), on PostgreSQL the row is locked, so two saves of one row queue
        with self._meta.database.atomic():
            if not created:
                prior = model.select().where(model._meta.primary_key == self._pk)
                if isinstance(self._meta.database, pw.PostgresqlDatabase):
                    prior = prior.for_update()
                prior = prior.first()
                old = prior.snapshot() if prior else None
                if versioned and prior is not None:
                    if expected is not None and (prior.version or 0) != expected:
                        raise StaleRecord(self, old)
                    self.version = prior.version      # rules comparing old and new see no change
            self._hooks.run_before(self, old)
            if versioned:
                self.version = (self.version or 0) + 1 if not created else 1
                if only is not None:
                    only = list(only) + [model.version]
            stamp = clock.now()
            if created:
                self.created_at = self.created_at or stamp
            self.updated_at = stamp
            result = super().save(force_insert=force_insert, only=only)
            self._hooks.run_after(self, "create" if created else "update", old)
        return result

    def expect_version(self, value):
        """The version the user's copy was loaded with (a form's hidden field): save() refuses the
        write with StaleRecord if the stored row has moved on since. Empty means a new row."""
        text = str(value if value is not None else "").strip()
        self.__dict__["_expected_version"] = int(text) if text.isdigit() else None

    def delete_instance(self, recursive=False, delete_nullable=False):
        if self._spec.archive:
            return self.archive()
        with self._meta.database.atomic():
            old = self.snapshot()
            result = super().delete_instance(recursive=False)
            self._hooks.run_after(self, "delete", old)
        return result

    def archive(self):
        if self.archived:
            return 0
        self._set_archived(True)
        return 1

    def restore(self):
        if not self.archived:
            return 0
        self._set_archived(False)
        return 1

    def _set_archived(self, flag):
        old = self.snapshot()
        self.archived = flag
        self.archived_at = clock.now() if flag else None
        self.updated_at = clock.now()
        try:
            with self._meta.database.atomic():
                pw.Model.save(self, only=[type(self).archived, type(self).archived_at, type(self).updated_at])
                self._hooks.run_after(self, "archive" if flag else "restore", old)
        except Exception:
            # refused and rolled back: the object must not claim a state the row does not have
            for key in ("archived", "archived_at", "updated_at"):
                self.__data__[key] = old.get(key)
            raise

    def __str__(self):
        spec = self._spec
        if spec.title:
            try:
                return spec.title.format(**{f.name: (getattr(self, f.column_name) or "")
                                            for f in spec.fields if f.type != "password"})
            except (KeyError, ValueError):
                pass
        return f"{spec.label} #{self._pk}"


def insert_rows(model, rows, columns):
    """INSERT many rows in one executemany: peewee's insert_many spends more time building the SQL
    of a large batch than SQLite spends storing it. Values go through each field's db_value."""
    if not rows:
        return
    db = model._meta.database
    fields = [model._meta.fields[c] for c in columns]
    names = ", ".join('"' + f.column_name + '"' for f in fields)
    marks = ", ".join([db.param] * len(fields))
    sql = f'INSERT INTO "{model._meta.table_name}" ({names}) VALUES ({marks})'
    converters = [f.db_value for f in fields]
    values = [[conv(row.get(c)) for c, conv in zip(columns, converters)] for row in rows]
    if isinstance(db, pw.PostgresqlDatabase):
        # psycopg2's executemany is one round trip per row (400k rows: 100 s); COPY streams them
        db.cursor().copy_expert(f'COPY "{model._meta.table_name}" ({names}) FROM STDIN', _copy_text(values))
        return
    db.cursor().executemany(sql, values)


PLAIN = (int, float, Decimal)        # exact types: bool, a subclass of int, is written t/f below


def _copy_text(values):
    """Rows in PostgreSQL's COPY text format: tab-separated, \\N for NULL, backslash escapes."""

    def cell(v):
        if type(v) in PLAIN:                   # numbers need no escaping: most cells of a ledger line
            return str(v)
        if v is None:
            return "\\N"
        if isinstance(v, bool):
            return "t" if v else "f"
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()
        return (str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return io.StringIO("".join("\t".join(cell(v) for v in row) + "\n" for row in values))


def stream_dicts(query, batch=2000):
    """Rows of a model query as dicts without holding the result in memory. psycopg2 fetches a
    whole result set client-side (a 1M-row export peaked at 540 MB), so PostgreSQL reads through a
    named (server-side) cursor; SQLite's cursor already streams."""
    db = query.model._meta.database
    if not isinstance(db, pw.PostgresqlDatabase):
        yield from query.dicts().iterator()
        return
    names = [f.name if isinstance(f, pw.Field) else str(f) for f in query._returning]
    converters = [f.python_value if isinstance(f, pw.Field) else None for f in query._returning]
    sql, params = query.sql()
    # WITH HOLD: peewee keeps psycopg2 in autocommit mode, where only such a cursor may be named
    cursor = db.connection().cursor(name=f"stream_{id(query):x}", withhold=True)
    try:
        cursor.itersize = batch
        cursor.execute(sql, params)
        for row in cursor:
            yield {n: (c(v) if c and v is not None else v) for n, c, v in zip(names, converters, row)}
    finally:
        cursor.close()


POOL_SIZE = 32          # per process: gunicorn's threads plus background jobs, well under PG's 100
POOL_STALE_SECONDS = 300


def make_database(url, pool=False):
    """SQLite by default (WAL, foreign keys on); PostgreSQL for postgres:// URLs.

    pool: keep connections open between requests. A new PostgreSQL connection forks a server
    process (15-80 ms on a busy 2-core machine), which every request paid before (issue 12); a new
    SQLite connection re-reads the schema and starts with a cold page cache."""
    scheme = urlparse(url).scheme
    if scheme in ("postgres", "postgresql"):
        if not pool:
            return db_url.connect(url)
        return db_url.connect("postgresql+pool" + url[len(scheme):], max_connections=POOL_SIZE,
                              stale_timeout=POOL_STALE_SECONDS, timeout=30)
    if scheme == "sqlite":
        # IMMEDIATE: a transaction that reads and then writes takes the write lock at BEGIN, where
        # SQLite waits busy_timeout for it; a deferred one fails at once with "database is locked"
        kw = {"lock_type": "IMMEDIATE", "pragmas": {
            "journal_mode": "wal", "foreign_keys": 1, "synchronous": "normal",
            "cache_size": -32000, "busy_timeout": 5000}}
        if pool and url != "sqlite:///:memory:":
            # a served app keeps its files open: opening one and setting the pragmas cost 10-25 ms a
            # request, and a kept connection keeps its page cache warm (issue 12). A connection is
            # used by one thread at a time but may be handed to another later, hence check_same_thread.
            return db_url.connect("sqlite+pool" + url[len(scheme):], max_connections=POOL_SIZE,
                                  stale_timeout=POOL_STALE_SECONDS, timeout=30, check_same_thread=False, **kw)
        return db_url.connect(url, **kw)
    raise ValueError(f"不支持的数据库地址：{url}（可用 sqlite:/// 或 postgresql://）")


class ModelSet:
    """The generated models of one registry, bound to one database."""

    def __init__(self, registry, database):
        self.registry = registry
        self.db = database
        self.hooks = Hooks()
        self.models = {}
        self._build()

    def __getitem__(self, name):
        return self.models[name]

    def __iter__(self):
        return iter(self.models.values())

    def _order(self):
        entities = self.registry.entities
        done, order = set(), []

        def visit(name, stack):
            if name in done:
                return
            if name in stack:
                e = entities[name]
                raise SchemaError(e.file, f"实体之间的引用成环：{' → '.join(stack + [name])}", name)
            for f in entities[name].fields:
                target = "area" if f.type == "area" else f.to if f.type == "ref" else None
                if target and target != name:
                    visit(target, stack + [name])
            done.add(name)
            order.append(name)

        for name in entities:
            visit(name, [])
        return order

    def _build(self):
        meta = type("Meta", (), {"database": self.db, "legacy_table_names": False})
        base = type("GeneratedBase", (Record,), {"__module__": __name__, "Meta": meta,
                                                 "_hooks": self.hooks})
        for name in self._order():
            spec = self.registry.entities[name]
            attrs = {"__module__": __name__, "_spec": spec,
                     "Meta": type("Meta", (), {"table_name": spec.table_name}),
                     "id": pw.AutoField(),
                     "created_at": pw.DateTimeField(null=True, verbose_name="创建时间"),
                     "updated_at": pw.DateTimeField(null=True, verbose_name="修改时间")}
            if spec.versioned:
                # nullable: adding it to a million-row table is one ALTER TABLE, no rebuild
                attrs["version"] = pw.IntegerField(null=True, verbose_name="版本")
                # forms carry it as a hidden field: read gives the stored version, write expects it
                attrs["row_version"] = property(lambda r: r.version or 0, Record.expect_version)
            if spec.archive:
                # no index of its own: every index of an archivable table leads with it (see below)
                attrs["archived"] = pw.BooleanField(default=False, verbose_name="已归档")
                attrs["archived_at"] = pw.DateTimeField(null=True, verbose_name="归档时间")
            for f in spec.fields:
                ftype = types.get(f.type)
                target = "area" if f.type == "area" else f.to
                if f.type in ("ref", "area") and target == name:
                    column = pw.ForeignKeyField("self", null=True, verbose_name=f.label, index=True,
                                                backref="+", on_delete="RESTRICT", lazy_load=False)
                else:
                    column = ftype.column(f, self.models)
                if f.unique:
                    column.index = False          # the unique index is declared below
                attrs[f.name] = column
            model = type(_class_name(name), (base,), attrs)
            if spec.archive:
                self._archive_indexes(model)
            for f in spec.fields:
                if f.unique:
                    idx = model.index(getattr(model, f.name), unique=True,
                                      name=f"{spec.table_name}_{f.name}_uniq")
                    if spec.archive:
                        # one live row per value; an archived row keeps its value and frees it
                        idx = idx.where(model.archived == False)  # noqa: E712
                    model.add_index(idx)
            for rule in spec.unique_rows:
                model.add_index(unique_rows_index(model, rule))
            self.models[name] = model
        self._live_backrefs()

    @staticmethod
    def _archive_indexes(model):
        """Lists always ask for live rows: (archived, column) serves both the filter and the sort,
        where a lone index on `archived` would make SQLite sort a million rows for page one."""
        for field in model._meta.sorted_fields:
            if field.name == "id":
                continue
            if field.index:
                # a reference keeps its own index too: inline saves and FK checks ask without `archived`
                field.index = isinstance(field, pw.ForeignKeyField)
                model.add_index(model.index(model.archived, field))
            elif model._spec.has_field(field.name) and model._spec.field(field.name).unique:
                # the partial unique index guards integrity, but SQLite cannot use it for a query
                # whose `archived = ?` is a parameter; this one serves search and sort
                model.add_index(model.index(model.archived, field))

    def _live_backrefs(self):
        """parent.<child>s lists the child rows that are not archived (inline forms read it)."""
        for child_name, child in self.models.items():
            for f in self.registry.entities[child_name].fields:
                if f.type != "ref" or f.to == child_name:
                    continue
                parent, fk = self.models[f.to], getattr(child, f.name)

                def rows(record, child=child, fk=fk):
                    q = child.select().where(fk == record.id)
                    return q.where(child.archived == False) if child._spec.archive else q  # noqa: E712
                setattr(parent, backref_name(child_name), property(rows))

    def create_tables(self):
        self.db.create_tables(list(self.models.values()), safe=True)


def unique_rows_index(model, rule):
    """A declared `unique_rows` rule as a partial unique index (SQLite and PostgreSQL both have them)."""
    idx = model.index(*[getattr(model, f) for f in rule.fields], unique=True, name=rule.name)
    condition = rows_meeting(model, rule.where)
    if model._spec.archive:
        condition = condition & (model.archived == False) if condition is not None \
            else (model.archived == False)  # noqa: E712
    return idx.where(condition) if condition is not None else idx


def rows_meeting(model, where):
    """field → value as one condition (None when there is none)."""
    terms = [getattr(model, f) == v for f, v in where.items()]
    return pw.reduce(pw.operator.and_, terms) if terms else None


def backref_name(child_entity):
    return child_entity + "s"


def _class_name(name):
    return "".join(part.title() for part in name.split("_"))
