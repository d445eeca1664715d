"""The command line (`flask --app app …`): one small module per command group, each command a thin
layer over the Python API it names, the way sqlite-utils' CLI mirrors its library.

Every command reaches the engine of the app it runs in (`engine()`); one that acts for somebody takes
`--user` through `as_user`, so its audit rows and row scope are that user's.
"""
import functools

import click
from flask import current_app

from casework.core import system


def engine():
    return current_app.extensions["jiuzhu"]


def user_option(help_text):
    return click.option("--user", "username", default="admin", show_default=True, help=help_text)


def as_user(fn):
    """--user NAME: the command acts as that user, so its audit rows and scope are that user's."""
    @functools.wraps(fn)
    def command(*args, username, **kwargs):
        User = engine().models["user"]
        user = User.get_or_none(User.username == username)
        if user is None:
            raise click.ClickException(f"没有用户 {username}")
        with system.acting_as(user):
            return fn(*args, user=user, **kwargs)
    return command


def refusing(*errors):
    """A refusal of the API (its Chinese message) ends the command with that message and exit code 1."""
    def wrap(fn):
        @functools.wraps(fn)
        def command(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except errors as e:
                raise click.ClickException(str(e)) from None
        return command
    return wrap


def echo_problems(problems, refusal):
    """Print each row problem; with any, end with `refusal` (which names how many) and exit code 1."""
    for p in problems:
        click.echo(f"第{p.row}行 {p.column}：{p.message}（值：{p.value}）" if p.row else p.message)
    if problems:
        raise click.ClickException(refusal.format(n=len(problems)))


def township(code):
    Area = engine().models["area"]
    found = Area.get_or_none(Area.code == code, Area.level == "township")
    if found is None:
        raise click.ClickException(f"没有乡镇（街道）代码 {code}")
    return found


def register(app):
    from . import audit, calendar, cards, cases, checks, database, imports, payments, reports, settings, spotcheck
    for module in (database, imports, cases, payments, cards, reports, spotcheck, checks, calendar, settings, audit):
        for command in module.COMMANDS:
            app.cli.add_command(command)
