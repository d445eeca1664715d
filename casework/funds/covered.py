"""Who a ledger line covers, by the categories of the statistics forms (national-rules.md §5.2–5.3).

The monthly run counts them into the line, so a month's report keeps the people as they were that
month: a member who turns 60 next year does not move last year's figures. A household's care covers
all its members; single-person care (单人保, 特困, 经济困难老年人补贴) covers the applicant of the deciding case, or the
head of the household for rows kept before the case was in the system.
"""
import datetime as dt

import peewee as pw

CATEGORIES = ("elderly", "adults", "minors", "women", "disabled", "labour_partial", "labour_none")


def single_person(registry, assistance_type):
    """Does care of this type cover one person (the applicant) rather than the whole household?
    (`single_person: true` in options/assistance_type.yaml: 单人保, 特困, 经济困难老年人补贴)"""
    return bool(registry.option_attr("assistance_type", assistance_type, "single_person"))


def age_on(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def counter(models, month):
    """count(rows) → {care id: {category: n}} for [(care id, household, assistance type)] of one chunk."""
    settings = models.settings
    elderly_age, adult_age = settings.get("elderly_age"), settings.get("adult_age")
    first_day = dt.date(int(month[:4]), int(month[5:7]), 1)
    Member, Care, Case, Household = models["member"], models["care"], models["case"], models["household"]
    current = Member.archived == False  # noqa: E712  (a removed member is no longer covered)
    # the database adds up whole households: age ≥ A on the 1st ⇔ born on or before the 1st, A years back
    # (400k households: a third faster than reading 800k members into Python)
    elderly_by = first_day.replace(year=first_day.year - elderly_age)
    adult_by = first_day.replace(year=first_day.year - adult_age)

    def one(cond):
        return pw.fn.SUM(pw.Case(None, [(cond, 1)], 0))
    sums = [one(Member.birth_date <= elderly_by),
            one(Member.birth_date.is_null() | ((Member.birth_date > elderly_by) & (Member.birth_date <= adult_by))),
            one(Member.birth_date > adult_by), one(Member.sex == "2"),
            one(Member.disability_class.is_null(False) & (Member.disability_class != "")),
            one(Member.labour_capacity == "2"), one(Member.labour_capacity == "3")]

    def categories(member):
        birth, sex, disability, labour = member
        out = dict.fromkeys(CATEGORIES, 0)
        if birth is None:
            out["adults"] = 1                     # no birth date: counted where most people are
        else:
            age = age_on(birth, first_day)
            out["elderly" if age >= elderly_age else "adults" if age >= adult_age else "minors"] = 1
        out["women"] = int(sex == "2")
        out["disabled"] = int(bool(disability))
        out["labour_partial"] = int(labour == "2")
        out["labour_none"] = int(labour == "3")
        return out

    def single_people(rows):
        """The one person each single-person row covers: the deciding case's applicant, else the head."""
        people = {}
        for care_id, birth, sex, disability, labour in (
                Care.select(Care.id, Member.birth_date, Member.sex, Member.disability_class, Member.labour_capacity)
                .join(Household, on=(Care.household == Household.id))
                .switch(Care).join(Case, pw.JOIN.LEFT_OUTER, on=(Care.case == Case.id))
                .join_from(Care, Member, on=(Member.id_number == pw.fn.COALESCE(Case.applicant_id_number,
                                                                                 Household.head_id_number)))
                .where(Care.id.in_([r[0] for r in rows]), current).tuples()):
            people[care_id] = categories((birth, sex, disability, labour))
        return people

    single = set(models.registry.codes_with("assistance_type", single_person=True))

    def count(rows):
        households = list({h for _, h, kind in rows if kind not in single}) or [0]
        totals = {h: dict(zip(CATEGORIES, (int(n or 0) for n in values)))
                  for h, *values in Member.select(Member.household, *sums)
                  .where(Member.household.in_(households), current).group_by(Member.household).tuples()}
        singles = [r for r in rows if r[2] in single]
        people = single_people(singles) if singles else {}
        zero = dict.fromkeys(CATEGORIES, 0)
        return {care_id: (people.get(care_id, zero) if kind in single else totals.get(household, zero))
                for care_id, household, kind in rows}
    return count
