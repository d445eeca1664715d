"""The one clock: what day it is for the rules, and the time stamps written with records.

Deadlines, due lists, notices and month boundaries ask `today()`; tests and scheduled jobs may move it
with `set()` (and put back what `saved()` gave), and every rule then sees the same day. Time stamps (`now()`) are not moved
by it: when a record was written and how long a session has been idle are facts, not business days.
"""
import datetime as dt

_today = None           # a callable giving the business day, when someone has set one


def today():
    return _today() if _today is not None else dt.date.today()


def now():
    """The wall-clock time to the second, as records store it."""
    return dt.datetime.now().replace(microsecond=0)


def set(day):
    """Make `today()` answer `day` (a date, or a callable giving one); `set(None)` goes back to the calendar."""
    global _today
    _today = day if (day is None or callable(day)) else (lambda: day)


def saved():
    """What `set()` was last given (None: the calendar), to put back after a temporary change."""
    return _today


def reset():
    set(None)

