"""calendar: working-day arithmetic on the statutory calendar."""
import datetime as dt

import click
from flask.cli import AppGroup

from casework.core.workdays import CalendarUnknown

from . import engine, refusing

calendar = AppGroup("calendar", help="工作日历。")


@calendar.command("add-working-days")
@click.argument("date")
@click.argument("n", type=int)
@refusing(CalendarUnknown)
def add_working_days(date, n):
    """打印 DATE 之后第 N 个工作日（按法定节假日、调休和县里录入的日历）。"""
    try:
        start = dt.date.fromisoformat(date)
    except ValueError:
        raise click.ClickException(f"日期格式应为 2026-09-30，收到 {date}") from None
    if n < 0:
        raise click.ClickException("N 不能为负数")
    click.echo(engine().flow.calendar().add_working_days(start, n).isoformat())


COMMANDS = [calendar]
