"""Who a ledger line covers, by the categories of the statistics forms (national-rules.md §5.2–5.3).

The monthly run counts them into the line, so a month's report keeps the people as they were that
month: a member who turns 60 next year does not move last year's figures. A household's care covers
all its members; single-person care (单人保, 特困) covers the applicant of the deciding case, or the
head of the household for rows kept before the case was in the system.
"""
import datetime as dt

import peewee as pw

SINGLE_PERSON = ("13", "21", "22")
CATEGORIES = ("elderly", "adults", "minors", "women", "disabled", "labour_partial", "labour_none")


def age_on(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def counter(models, month):
    """count(rows) → {care id: {category: n}} for [(care id, household, assistance type)] of one chunk."""
    settings = models.settings
    elderly_age, adult_age = settings.get("elderly_age"), settings.get("adult_age")
    first_day = dt.date(int(month[:4]), int(month[5:7]), 1)
    Member, Care, Case, Household = models["member"], models["care"], models["case"], models["household"]

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

    def count(rows):
        households = list({household for _, household, _ in rows}) or [0]
        members, by_id = {}, {}
        for household, id_number, *rest in (
                Member.select(Member.household, Member.id_number, Member.birth_date, Member.sex,
                              Member.disability_class, Member.labour_capacity)
                .where(Member.household.in_(households)).tuples()):
            members.setdefault(household, []).append(rest)
            by_id[id_number] = rest
        singles = [care_id for care_id, _, kind in rows if kind in SINGLE_PERSON]
        person = {}
        if singles:
            for care_id, applicant, head in (
                    Care.select(Care.id, Case.applicant_id_number, Household.head_id_number)
                    .join(Household, on=(Care.household == Household.id))
                    .switch(Care).join(Case, pw.JOIN.LEFT_OUTER, on=(Care.case == Case.id))
                    .where(Care.id.in_(singles)).tuples()):
                person[care_id] = by_id.get(applicant) or by_id.get(head)
        out = {}
        for care_id, household, kind in rows:
            covered = ([person[care_id]] if person.get(care_id) else []) if kind in SINGLE_PERSON \
                else members.get(household, [])
            totals = dict.fromkeys(CATEGORIES, 0)
            for member in covered:
                for key, n in categories(member).items():
                    totals[key] += n
            out[care_id] = totals
        return out
    return count
