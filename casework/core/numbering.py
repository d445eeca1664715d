"""Serial numbers (事项编号, 证号, 失信记录编号, 信访编号): a prefix that says whose and when, then the next
serial after the highest one already given under that prefix, zero-padded.

Numbers are never reused: archived rows keep theirs and still count. The caller's write transaction
(BEGIN IMMEDIATE on SQLite, the unique column on both databases) keeps two clerks from taking one number.
"""
import peewee as pw

NO_AREA = "000000000"          # a record not yet placed in a township still gets a well-formed number


def next_number(field, prefix, width):
    model = field.model
    # the longest, then highest, number: a serial that outgrew its width still sorts last
    last = (model.select(field).where(field.startswith(prefix))
            .order_by(pw.fn.LENGTH(field).desc(), field.desc()).scalar())
    tail = last[len(prefix):] if last else ""
    return f"{prefix}{(int(tail) + 1 if tail.isdigit() else 1):0{width}d}"


def township_code(models, village_id):
    """The code of the township a village lies in, or NO_AREA."""
    Area = models["area"]
    township = Area.select(Area.parent).where(Area.id == village_id).scalar() if village_id else None
    code = Area.select(Area.code).where(Area.id == township).scalar() if township else None
    return code or NO_AREA
