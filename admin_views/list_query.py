"""What a list page reads: the search, the filters, the count, the order and the page.

The plans are written for both databases at 400,000 households: SQLite has no statistics, so a list
narrowed to an area or a search tells it which index to use (`+col`, filters.unindexed); PostgreSQL
chooses by itself. Measured by bench/bench_core.py and bench/bench_pages.py.
"""
import peewee as pw
from flask import g

from casework.core import scope
from schema import types

from . import auth, caches, filters


class ListQuery:
    """Mixed into SchemaModelView ahead of flask-admin's ModelView, whose list methods it replaces;
    the view provides spec, model, models, engine and the flask-admin list settings."""

    def _search_clause(self, term, within_area, walking=False):
        """Rows where any search field matches the term.

        Over the whole county: a UNION of one indexed lookup per field, because `archived = ? AND
        (a OR b)` can use neither (archived, a) nor (archived, b) and scans. Within an area the area's
        index finds the few rows and a plain OR tests them (a UNION there would be crossed with the
        area's list: seconds). walking: the county's list read in its own order (_walk_order), each
        row tested against the term."""
        conditions = []
        sqlite = isinstance(self.models.db, pw.SqliteDatabase)
        for path in self.spec.search:
            f = self.resolve(path)
            ftype = types.get(f.type)
            if ftype.search_clause(pw.Field(), term, f) is None:
                continue
            hint = within_area and sqlite and (walking or "." in path or self._broad(self.model, f, ftype, term))
            conditions.append(filters.path_condition(
                self.models, self.spec.name, path,
                lambda col, t=ftype, f=f, hint=hint: t.search_clause(filters.unindexed(col) if hint else col,
                                                                     term, f)))
        conditions += self._inline_search(term, within_area)
        if not conditions:
            return scope.NOTHING
        if within_area:
            return pw.reduce(pw.operator.or_, conditions)
        if len(conditions) == 1:
            # one field can match (an ID number matches no name): its own index answers directly,
            # where `id IN (lookup)` made PostgreSQL join back 12,000 rows to count a prefix's matches
            if self.spec.archive:
                return conditions[0] & (self.model.archived == self.archived_mode)
            return conditions[0]
        lookups = []
        for cond in conditions:
            lookup = self.model.select(self.model.id).where(cond)
            if self.spec.archive:
                lookup = lookup.where(self.model.archived == self.archived_mode)
            lookups.append(lookup)
        return self.model.id.in_(pw.reduce(pw.operator.or_, lookups))

    def _broad(self, model, f, ftype, term):
        """Within an area on SQLite: should the area's own index find the rows (True: `+col` keeps the
        term's index out) rather than the term's? SQLite keeps no statistics to tell. The term's index
        is asked for up to `search_probe_rows` matches, a cheap walk: fewer, and they are tested one
        by one against the area (a full ID number in a township of 100,000 people: 97 → 37 ms); as
        many, and the area's rows are tested against the term (an ID-number range walked across the
        county first took 88 ms for a 10-digit prefix). PostgreSQL chooses by its statistics, made
        finer for searched columns (schema/migrate.py)."""
        if not ftype.search_indexed(f):
            return True             # a name's "contains" reads every row it tests: the area's are fewer
        limit = int(self.engine.settings.get("search_probe_rows") or 0)
        if limit <= 0:
            return True
        col = getattr(model, f.name)
        probe = model.select(pw.SQL("1")).where(ftype.search_clause(col, term, f))
        if model._spec.archive:
            # the unique indexes are partial (live rows) or lead with `archived`: without it, a scan
            probe = probe.where(model.archived == (self.archived_mode if model is self.model else False))
        return probe.limit(limit).count() >= limit

    def _inline_search(self, term, within_area):
        """`search_inline`: rows whose live inline children match the term on the children's own
        search fields (a household found by its spouse's ID number), one indexed lookup per field."""
        sqlite = isinstance(self.models.db, pw.SqliteDatabase)
        out = []
        for child_name in self.spec.inline if self.spec.search_inline else ():
            child_spec = self.models.registry.entities[child_name]
            child = self.models[child_name]
            back = next(f for f in child_spec.fields if f.type == "ref" and f.to == self.spec.name)
            for path in child_spec.search:
                f = child_spec.field(path) if "." not in path else None
                ftype = types.get(f.type) if f else None
                if ftype is None or ftype.search_clause(pw.Field(), term, f) is None:
                    continue
                col = getattr(child, f.name)
                hint = within_area and sqlite and self._broad(child, f, ftype, term)
                lookup = child.select(getattr(child, back.name)).where(
                    ftype.search_clause(filters.unindexed(col) if hint else col, term, f))
                if child_spec.archive:
                    lookup = lookup.where(child.archived == False)  # noqa: E712
                out.append(self.model.id.in_(lookup))
        return out

    def get_filters(self):
        return filters.build(self) or None

    def _get_filter_groups(self):
        # options of area filters depend on who is asking; flask-admin caches them at start
        if not self._filters:
            return None
        groups = {}
        for i, flt in enumerate(self._filters):
            groups.setdefault(str(flt.name), []).append({
                "index": i, "arg": self.get_filter_arg(i, flt), "operation": str(flt.operation()),
                "options": flt.get_options(self) or None, "type": flt.data_type})
        return groups

    def get_safe_page_size(self, page_size):
        """Rows per page: the user's choice among the offered sizes, else the county's setting."""
        if self.can_set_page_size and page_size in self.page_size_options:
            return page_size
        return max(1, min(int(self.engine.settings.get("list_page_size") or self.page_size), 500))

    def get_list(self, page, sort_column, sort_desc, search, filters_, execute=True, page_size=None):
        everything = scope.sees_everything(self.models, auth.current())
        if search and everything:
            # the search's own lookups pick live or archived rows; an outer `archived = ?` would
            # make SQLite walk an (archived, …) index over every row instead of fetching by id
            query = scope.scoped(self.models, self.spec.name, auth.current(), archived=None)
        else:
            query = self.get_query()
        # an area, a search or an area filter leaves few rows; see _order_term and filters.Weak
        narrowed = not everything or bool(search) or any(
            isinstance(self._filters[flt], filters.AreaEqual) for flt, _n, _v in filters_ or [])
        sqlite_hints = narrowed and isinstance(self.models.db, pw.SqliteDatabase)
        for term in (search or "").split():
            query = query.where(self._search_clause(term, within_area=not everything))
        for flt, _name, value in filters_ or []:
            f = self._filters[flt]
            query = f.apply(query, f.clean(value), weak_hint=sqlite_hints)
        capped = False
        if self.simple_list_pager:
            count = None
        elif not search and not filters_ and everything:
            count = self._table_count()
        elif execute and not search and not filters_:
            count = caches.area_count(self.engine, self.spec.name, auth.current(), query.count, self.archived_mode)
        elif execute:
            count, capped = self._capped_count(query)
        else:
            count = query.count()         # an export checks the exact number against its limit
        if page_size is None:
            page_size = self.page_size
        if search and everything and not filters_ and sqlite_hints and self._walk_order(count, page, page_size,
                                                                                        capped):
            # a short prefix over the whole county ("37040519": most people): fetching every match by
            # the search's index and sorting them took 1 s at 250,000 members (14 s at 400,000
            # households); walking the list's order index and testing each row stops at the page
            query = self.get_query()
            for term in search.split():
                query = query.where(self._search_clause(term, within_area=True, walking=True))
            sqlite_hints = False
        if sort_column is not None and sort_column in self._sortable_columns:
            order = [(sort_column, bool(sort_desc))]
        else:
            order = list(self.column_default_sort or [])
        query = query.order_by(*[self._order_term(c, d, sqlite_hints) for c, d in order], self.model.id)
        if page_size:
            query = query.limit(page_size)
            if page:
                query = query.offset(page * page_size)
        if not execute:
            return count, query
        rows = list(query)
        paths = [c for c in self.column_list if c != "id"]
        self.ctx().resolver.prefetch(self.spec.name, [r.__data__ for r in rows], paths)
        return count, rows

    def _capped_count(self, query):
        """(matches, capped): a search's or filter's matches counted up to `list_count_limit`. A short
        ID prefix matches most of the county, and counting 900,000 rows took 270 ms on PostgreSQL for
        a figure nobody reads; past the limit the page says "more than" and pages up to it."""
        limit = int(self.engine.settings.get("list_count_limit") or 0)
        if limit <= 0:
            return query.count(), False
        count = query.limit(limit + 1).count()
        if count > limit:
            g.list_count_capped = limit
            return limit, True
        return count, False

    def _walk_order(self, count, page, page_size, capped=False):
        """True when walking the order index finds the page sooner than sorting every match: with
        `count` of `total` rows matching, the walk reads about (rows up to the page's end) x total /
        count rows; the sort reads all `count`. A capped count is a floor: the sort reads more than
        it, the walk at most end x total / count. Only for an indexed own-column order (the default)."""
        if not count or not page_size or self.spec.search_inline:
            return False
        walk = ((page or 0) + 1) * page_size * self._table_count() / count
        return walk < (10 if capped else 1) * count

    def render(self, template, **kwargs):
        if g.get("list_count_capped") and isinstance(kwargs.get("count"), int):
            kwargs["count"] = f"{g.list_count_capped}+"     # the tab reads 列表 (10000+)
        return super().render(template, **kwargs)

    def _order_term(self, column, desc, hint):
        """On SQLite a narrowed list (an area, a search) sorts its few rows: `+col` stops the planner
        from walking the whole sort index and testing every row against the area (0.5 s at 400k
        households). PostgreSQL keeps statistics and chooses well by itself."""
        col = getattr(self.model, column)
        if hint:
            col = filters.unindexed(col)
        return col.desc() if desc else col.asc()

    def _table_count(self):
        """Rows of the whole table for the county's unfiltered list. SQLite answers a plain COUNT(*)
        from the b-tree's page counts (45 → 5 ms at 1M members); PostgreSQL must scan (40–70 ms), so
        the figure is kept for `list_count_cache_seconds` unless this process writes the table."""
        return self.engine_counts.get(self.spec.name, self.archived_mode, self._count_now,
                                      self.engine.settings.get("list_count_cache_seconds"), counts=True)

    def _count_now(self):
        model = self.model
        star = pw.fn.COUNT(pw.SQL("*"))
        if not self.spec.archive:
            return model.select(star).scalar()
        archived = model.select(star).where(model.archived == True).scalar()  # noqa: E712
        return archived if self.archived_mode else model.select(star).scalar() - archived

    @property
    def engine_counts(self):
        return caches.for_engine(self.engine)
