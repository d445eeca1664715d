"""What a new record's form starts with, beyond the declared defaults: the user's only village, and a
new case's household, applicant and 申请日期 (the save rules fill the same when they are left empty,
so an import or the API gets the same values)."""
from flask import request

from casework.core import scope

from . import auth
from schema import clock


def only_village(view, form):
    """A user whose area holds a single village gets it chosen in every village field."""
    user = auth.current()
    Area = view.models["area"]
    for f in view.spec.fields:
        if f.type != "area" or f.level != "village" or f.name not in form or form[f.name].data:
            continue
        villages = list(scope.scoped(view.models, "area", user).where(Area.level == "village").limit(2))
        if len(villages) == 1:
            form[f.name].data = villages[0]


def new_case(view, form):
    """/admin/case/new/?household=ID (the household page's button): household and applicant filled in."""
    user = auth.current()
    if "apply_date" in form and not form.apply_date.data:
        form.apply_date.data = clock.today()
    household_id = request.args.get("household", "")
    if "household" not in form or not household_id.isdigit():
        return
    H = view.models["household"]
    household = scope.scoped(view.models, "household", user).where(H.id == int(household_id)).first()
    if household is None:
        return                                   # not the user's: nothing is shown of it
    form.household.data = household
    if "applicant_name" in form and not form.applicant_name.data:
        form.applicant_name.data = household.head_name
    if "applicant_id_number" in form and not form.applicant_id_number.data:
        form.applicant_id_number.data = household.head_id_number


def init_app(app, engine):
    # templates offer a button only to users who may use it (the view checks again on the request)
    app.jinja_env.globals["jiuzhu_can"] = lambda entity, action: scope.can(engine.models, auth.current(), entity,
                                                                           action)
