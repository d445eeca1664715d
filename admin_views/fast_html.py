"""WTForms' html_params, the same output written without Markup.format.

Every hidden input, x-editable cell and select of a page goes through html_params, and WTForms builds
each attribute with `Markup('{k}="{v}"').format(...)`, a string.Formatter pass per attribute: 430 of
them on a list page of 20 households (the row's delete form, the editable phone), about a quarter of
the page's time. install() puts this one where WTForms' widgets and Flask-Admin's look it up."""
from markupsafe import Markup, escape
from wtforms.widgets import core

ORIGINAL = core.html_params


def html_params(**kwargs):
    params = []
    for k, v in sorted(kwargs.items()):
        k = core.clean_key(k)
        if v is True:
            params.append(str(escape(k)))
        elif v is not False:
            params.append(f'{escape(k)}="{str(escape(v)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))


def install():
    import wtforms.widgets
    from flask_admin.model import widgets as admin_widgets
    for module in (core, wtforms.widgets, admin_widgets):
        module.html_params = html_params
