"""The statutory working-day calendar: weekends, public holidays and make-up working days (调休).

`chinesecalendar` knows the State Council's schedule for the years it was released with; the
county administrator enters later years as `calendar_day` rows and lists the year in the setting
`calendar_confirmed_years`. A date in a year neither knows raises `CalendarUnknown`: a deadline
is then shown as unknown with a warning, never guessed from weekends alone.
"""
import datetime as dt

import chinese_calendar
from chinese_calendar import constants

PACKAGE_YEARS = range(min(constants.holidays).year, max(constants.holidays).year + 1)


class CalendarUnknown(Exception):
    def __init__(self, year):
        self.year = year
        super().__init__(f"{year}年的法定节假日安排尚未录入，无法按工作日计算期限。"
                         f"请县级管理员在“工作日历”中录入该年的放假和调休日期，并在系统设置中确认该年份。")


class Calendar:
    def __init__(self, overrides=None, confirmed_years=()):
        self.overrides = dict(overrides or {})     # date → True (working) / False (day off)
        self.confirmed = set(confirmed_years)

    def knows(self, year):
        return year in PACKAGE_YEARS or year in self.confirmed

    def is_workday(self, day):
        if day in self.overrides:
            return self.overrides[day]
        if day.year in PACKAGE_YEARS:
            return chinese_calendar.is_workday(day)
        if day.year in self.confirmed:
            return day.weekday() < 5
        raise CalendarUnknown(day.year)

    def add_working_days(self, start, n):
        """The date that is the n-th working day after `start` (start itself not counted)."""
        day, left = start, n
        while left > 0:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day

    def period_end(self, start, n):
        """The last day of a period of n natural days (民法典第二百零一条、第二百零三条): the day of
        `start` does not count; a last day that is a statutory day off moves to the next working day."""
        day = start + dt.timedelta(days=n)
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day

    def period_end_or_unrolled(self, start, n):
        """period_end, or the plain n-th day when the year's holidays are unknown (never later than
        the true last day, so nothing is shown as still open that is not)."""
        try:
            return self.period_end(start, n)
        except CalendarUnknown:
            return start + dt.timedelta(days=n)

    def working_days_between(self, start, end):
        """Working days after `start` up to and including `end`; negative when end < start."""
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count


def parse_years(text):
    """'2027, 2028' → {2027, 2028}; anything else is ignored with the rest kept."""
    out = set()
    for part in str(text or "").replace("，", ",").replace("、", ",").split(","):
        part = part.strip()
        if part.isdigit() and len(part) == 4:
            out.add(int(part))
    return out
