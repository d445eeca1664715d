"""The payment month's lock: runs, corrections, closing, bank returns and roster changes of one
township-month take turns, so that each re-reads what the one before committed."""
import peewee as pw


def hold(models, township_code, month):
    """Lock a township-month for the rest of the transaction without creating its row.
    PostgreSQL: an advisory lock on the month's key (it also covers the row not existing yet).
    SQLite: a write as the first statement takes the database's write lock before anything is read
    (a read first would let a second writer in between)."""
    key = f"{township_code}-{month}"
    if isinstance(models.db, pw.PostgresqlDatabase):
        models.db.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"payment_month:{key}",))
    else:
        Period = models["payment_month"]
        Period.update(key=Period.key).where(Period.key == key).execute()


def hold_from(models, township_id, first_month):
    """Lock `first_month` and every later month the township already has, in ascending order: a
    roster change takes effect from its month on, and two changes taking their locks in one order
    never wait on each other in a circle."""
    Area, Period = models["area"], models["payment_month"]
    code = Area.select(Area.code).where(Area.id == township_id).scalar()
    if code is None:
        return
    later = [m for (m,) in Period.select(Period.month)
             .where(Period.township == township_id, Period.month > first_month).tuples()]
    for month in sorted({first_month, *later}):
        hold(models, code, month)


def lock_month(models, township, month):
    """Hold a township-month (see hold) and return its payment_month row, created open if missing.
    Call it first in the transaction."""
    hold(models, township.code, month)
    return period(models, township, month)


def period(models, township, month):
    Period = models["payment_month"]
    row = Period.get_or_none(Period.township == township.id, Period.month == month)
    if row is None:
        row = Period(township=township.id, month=month, key=f"{township.code}-{month}", status="open")
        row.save()
    return row
