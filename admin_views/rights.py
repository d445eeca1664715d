"""The right each hand-written POST route needs, declared on the route itself: the role's rights in
schema/roles.yaml decide, as they do for the generated screens. A refusal is a Chinese message on
the page the user came from; nothing is written."""
import functools

from flask import flash, redirect, url_for

from casework.core import scope

from . import auth


def needs(entity, action, refusal):
    """Refuse the route unless the user's role has `action` on `entity` (roles.yaml)."""
    def wrap(fn):
        @functools.wraps(fn)
        def route(view, *args, **kwargs):
            if not scope.can(view.engine.models, auth.current(), entity, action):
                flash(refusal, "error")
                return redirect(url_for(".index_view" if hasattr(view, "index_view") else ".index"))
            return fn(view, *args, **kwargs)
        route.needs = (entity, action)
        return route
    return wrap
