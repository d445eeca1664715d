"""Attacks on the money paths (issue 16), each reproduced and now harmless, on SQLite and PostgreSQL:
simultaneous runs pay once, a double-clicked 补发 is one line, closing waits for corrections and
checks again, two bank returns for the same lines write one result, the account paid is the
bank-card register's."""
import datetime as dt
import functools
import threading
from decimal import Decimal

import peewee as pw
import pytest

from casework.funds import bank_return, payments
from casework.core import system
from schema import RecordInvalid

from .conftest import together
from .test_payments import _returned_month, approved, lines, run, two_lines, with_card, world  # noqa: F401

D = dt.date


def at_once(count, work):
    """Run `work(i)` in `count` threads started together; [(result or exception)] in thread order."""
    return together(*[functools.partial(work, i) for i in range(count)])


def second_household_in_the_first_village(world):
    Household = world.engine.models["household"]
    moved = Household.get_by_id(world.households[1].id)
    moved.village = world.villages[0]
    token = system.actor.set((None, "测试", None))
    moved.save()
    system.actor.reset(token)


def test_simultaneous_runs_pay_each_household_once(world):
    with_card(world, 0)
    approved(world, 0)
    run(world, "2026-11")                        # the month is generated ...
    second_household_in_the_first_village(world)
    with_card(world, 1, account="6228480012345678902")
    approved(world, 1, amount="480")             # ... then a case is approved into it
    results = at_once(4, lambda i: run(world, "2026-11"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.created for r in results) == 1
    assert sorted(str(p.amount) for p in lines(world, "2026-11")) == ["480.00", "620.00"]
    total = payments.bank_totals(world.engine, world.users["town"], world.towns[0].id, "2026-11")
    assert (total[0], str(total[1])) == (2, "1100.00")


def test_the_database_refuses_a_second_regular_line(world):
    with_card(world, 0)
    approved(world, 0)
    run(world, "2026-11")
    Payment = world.engine.models["payment"]
    first = lines(world, "2026-11")[0]
    copy = {k: v for k, v in first.__data__.items() if k != "id"}
    with pytest.raises(pw.IntegrityError), world.engine.db.atomic():
        Payment.insert(**copy).execute()
    # a 补发 in the same month is a line of its own
    Payment.insert(**dict(copy, kind="back", amount=50)).execute()
    assert len(lines(world, "2026-11")) == 2


def test_existing_duplicates_are_reported_and_the_start_goes_on(engine):
    Payment = engine.models["payment"]
    index = "payment_household_assistance_type_month_one"
    engine.db.execute_sql(f'DROP INDEX "{index}"')
    from .test_workflow import World
    w = World(engine)
    row = dict(household=w.households[0].id, village=w.villages[0].id, assistance_type="12", month="2026-11",
               kind="regular", amount=100, status="pending")
    Payment.insert(**row).execute()
    Payment.insert(**row).execute()
    plan = engine.migrate()
    assert any("1 组重复的记录" in w_ and "每户每月" not in w_ and "该户该月该救助项目已有一笔按月发放" in w_
               for w_ in plan.warnings), plan.warnings
    assert "? 表 payment 有 1 组重复的记录" in plan.describe()
    assert index not in {i.name for i in engine.db.get_indexes("payment")}
    Payment.delete().where(Payment.id == Payment.select(pw.fn.MAX(Payment.id)).scalar()).execute()
    assert not engine.migrate().warnings
    assert index in {i.name for i in engine.db.get_indexes("payment")}


def test_a_double_clicked_back_pay_is_registered_once(world):
    with_card(world, 0)
    approved(world, 0)
    care = world.engine.models["care"].get()
    town, token = world.users["town"], "0123456789abcdef0123456789abcdef"
    results = at_once(2, lambda i: payments.adjust(world.engine, town, care.id, "2026-12", "back", "100", "少发",
                                                   token=token))
    assert sorted(r.repeated for r in results) == [False, True]
    assert [(p.kind, str(p.amount)) for p in lines(world, "2026-12")] == [("back", "100.00")]
    # a new form (a new token) is a new correction
    payments.adjust(world.engine, town, care.id, "2026-12", "back", "100", "又少发", token="f" * 32)
    assert len(lines(world, "2026-12")) == 2
    with pytest.raises(payments.PaymentRefused, match="表单已失效"):
        payments.adjust(world.engine, town, care.id, "2026-12", "back", "1", "x", token="<script>")
    # a token taken from another household's form does not reveal or repeat that line
    second_household_in_the_first_village(world)
    with_card(world, 1, account="6228480012345678902")
    approved(world, 1, amount="480")
    other = world.engine.models["care"].select().where(world.engine.models["care"].id != care.id).get()
    with pytest.raises(payments.PaymentRefused, match="表单已失效"):
        payments.adjust(world.engine, town, other.id, "2026-12", "back", "100", "x", token=token)


def test_closing_never_happens_with_a_correction_pending(world):
    from .test_payments import _returned
    made = two_lines(world)
    care = world.engine.models["care"].select().order_by(world.engine.models["care"].id).first()
    town = world.users["town"]

    def fill(rows):
        rows[7] += ["成功", "", "2026-11-10"]
        rows[8] += ["成功", "", "2026-11-10"]
    assert bank_return.apply(world.engine, town, world.towns[0].id, "2026-11", _returned(world, fill),
                             "回盘.xlsx").ok
    assert len(made) == 2

    def race(i):
        if i == 0:
            return payments.adjust(world.engine, town, care.id, "2026-11", "back", "30", "少发")
        return payments.close(world.engine, town, world.towns[0].id, "2026-11")
    adjusted, closed = at_once(2, race)
    Period = world.engine.models["payment_month"]
    state = Period.get(Period.township == world.towns[0].id, Period.month == "2026-11").status
    pending = [p for p in lines(world, "2026-11") if p.status == "pending"]
    if state == "closed":                        # the closing went first: the correction is refused
        assert isinstance(adjusted, payments.PaymentRefused) and "已关账" in str(adjusted) and not pending
        summary = world.engine.models["ledger_month"].select(pw.fn.SUM(world.engine.models["ledger_month"].amount))
        assert Decimal(str(summary.scalar())) == Decimal("1100")
    else:                                        # the correction went first: the closing sees it
        assert isinstance(closed, payments.PaymentRefused) and "还有 1 笔待发" in str(closed)
        assert [str(p.amount) for p in pending] == ["30.00"]


def test_two_bank_returns_for_the_same_lines_write_one_result(world):
    two_lines(world)
    town = world.users["town"]

    def filled(result):
        def fill(rows):
            rows[7] += [result, "账户冻结" if result == "失败" else "", ""]
            rows[8] += [result, "账户冻结" if result == "失败" else "", ""]
        return _returned_month(world, "2026-11", fill)
    files = [filled("成功"), filled("失败")]
    outcomes = at_once(2, lambda i: bank_return.apply(world.engine, town, world.towns[0].id, "2026-11", files[i],
                                                      "回盘.xlsx"))
    assert sorted(o.ok for o in outcomes) == [False, True], outcomes
    applied, refused = (outcomes[0], outcomes[1]) if outcomes[0].ok else (outcomes[1], outcomes[0])
    statuses = {p.status for p in lines(world, "2026-11")}
    assert statuses == ({"paid"} if applied.paid else {"failed"})
    assert len(refused.problems) == 2 and refused.paid == refused.failed == 0
    assert all(p.row in (8, 9) for p in refused.problems)
    # whether the refused file was read before or after the first was written, it names what happened
    assert all("已标记" in p.message or "没有这笔待发的发放记录" in p.message for p in refused.problems)


def test_a_different_second_result_is_refused_and_listed(world, monkeypatch):
    """The second file read its lines before the first one committed (the race above, made certain)."""
    if world.engine.database_url.startswith("sqlite"):
        pytest.skip("SQLite 的写事务开始即持有写锁（BEGIN IMMEDIATE）：另一个文件只能等它提交，这种交错不会发生")
    two_lines(world)
    town = world.users["town"]

    def filled(result):
        def fill(rows):
            rows[7] += [result, "", ""]
            rows[8] += [result, "", ""]
        return _returned_month(world, "2026-11", fill)
    paid, failed = filled("成功"), filled("失败")
    real_lock = payments.lock_month

    def first_file_lands_meanwhile(models, township, month):
        monkeypatch.setattr(payments, "lock_month", real_lock)
        # another request, on its own connection, commits its file before this one takes the lock
        first = at_once(1, lambda i: bank_return.apply(world.engine, town, world.towns[0].id, "2026-11", paid,
                                                       "回盘.xlsx"))[0]
        assert first.ok and first.paid == 2
        return real_lock(models, township, month)
    monkeypatch.setattr(payments, "lock_month", first_file_lands_meanwhile)
    outcome = bank_return.apply(world.engine, town, world.towns[0].id, "2026-11", failed, "回盘2.xlsx")
    assert [(p.row, p.message) for p in outcome.problems] == [
        (8, "这笔已标记为“已发”，本文件为“失败”：结果只记一次，未改"),
        (9, "这笔已标记为“已发”，本文件为“失败”：结果只记一次，未改")]
    assert {p.status for p in lines(world, "2026-11")} == {"paid"}


def test_the_account_paid_is_the_registers(world):
    approved(world, 0)
    Household = world.engine.models["household"]
    h = Household.get_by_id(world.households[0].id)
    h.bank_account, h.account_name = "6228480099999999999", "别人"
    token = system.actor.set((world.users["village"].id, "village", None))
    try:
        with pytest.raises(RecordInvalid, match="银行卡信息只能在“银行卡”中登记或注销"):
            h.save()
    finally:
        system.actor.reset(token)
    # a copy written behind the rules' back (a script, an old import) is still not what is paid
    Household.update(bank_account="6228480099999999999").where(Household.id == h.id).execute()
    assert run(world, "2026-11").held == 1
    assert lines(world, "2026-11")[0].bank_account is None
    with_card(world, 0, account="6228480012345678901")
    assert Household.get_by_id(h.id).bank_account == "6228480012345678901"      # the copy follows the card
    run(world, "2026-12")
    assert lines(world, "2026-12")[0].bank_account == "6228480012345678901"


def test_the_back_pay_form_posted_twice_registers_one_line(app, browser_for):
    import re
    from .conftest import engine_of
    eng = engine_of(app)
    Care, Payment, Area = eng.models["care"], eng.models["payment"], eng.models["area"]
    care = Care.select().where(Care.village.in_(Area.select(Area.id).where(
        Area.code.startswith("370405001")))).first()
    town = browser_for("town1")
    page = town.get(f"/admin/care/details/?id={care.id}").get_data(as_text=True)
    form_token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page).group(1)
    data = {"month": "2027-02", "kind": "back", "amount": "50", "reason": "10月少发", "form_token": form_token}
    first = town.post(f"/admin/care/adjust/?id={care.id}", data)
    assert "已登记补发 50.00 元" in town.get(first.headers["Location"]).get_data(as_text=True)
    second = town.post(f"/admin/care/adjust/?id={care.id}", data)
    assert "这张表单已登记过（补发 50.00 元，随 2027-02 发放），重复提交未再登记。" in \
        town.get(second.headers["Location"]).get_data(as_text=True)
    assert Payment.select().where(Payment.care == care.id, Payment.kind == "back").count() == 1
    again = town.get(f"/admin/care/details/?id={care.id}").get_data(as_text=True)
    assert form_token not in again                 # the next form is a new correction


def _change_meanwhile(world, monkeypatch, module, name, care, kind, month, amount):
    """Pause the money step at `module.name` (it holds the month's lock by then) and let another
    request, on its own connection, save a roster change; (what that change met, whether it was
    done while the step still held the month). SQLite queues every write transaction at its start
    (BEGIN IMMEDIATE), so there only PostgreSQL can show the lock missing."""
    from .test_payments import change
    real, met, done = getattr(module, name), [], threading.Event()

    def save():
        try:
            change(world, care, kind, month, amount)
            met.append(None)
        except Exception as e:          # noqa: BLE001 - the test looks at what the change met
            met.append(e)
        finally:
            done.set()
            world.engine.db.close()
    thread = threading.Thread(target=save)

    def paused(*args, **kw):
        monkeypatch.setattr(module, name, real)
        thread.start()
        met.append(done.wait(1.5))      # True: the change went through while the month was held
        return real(*args, **kw)
    monkeypatch.setattr(module, name, paused)
    return thread, met


def test_a_roster_change_waits_for_the_closing_of_its_month(world, monkeypatch):
    """Without the lock (PostgreSQL) the change reads the month as open and lands in a closed month."""
    with_card(world, 0)
    approved(world, 0)
    run(world, "2026-11")
    line = lines(world, "2026-11")[0]
    line.status, line.paid_on = "paid", D(2026, 11, 10)
    line.save()
    care = world.engine.models["care"].get()
    thread, met = _change_meanwhile(world, monkeypatch, payments, "summarise", care, "lower", "2026-11", "500")
    payments.close(world.engine, world.users["town"], world.towns[0].id, "2026-11")
    thread.join(30)
    done_while_held, outcome = met
    assert not done_while_held
    assert isinstance(outcome, RecordInvalid) and "2026-11 已关账，变更只能从以后的月份生效" in str(outcome.errors)
    Change = world.engine.models["care_change"]
    assert not Change.select().where(Change.care == care.id, Change.kind == "lower").exists()
    assert str(world.engine.models["care"].get_by_id(care.id).monthly_amount) == "620.00"


def test_a_run_and_a_roster_change_of_its_month_take_turns(world, monkeypatch):
    with_card(world, 0)
    approved(world, 0)
    care = world.engine.models["care"].get()
    thread, met = _change_meanwhile(world, monkeypatch, payments, "held_care", care, "lower", "2026-12", "500")
    result = run(world, "2026-12")
    thread.join(30)
    done_while_held, outcome = met
    assert not done_while_held and outcome is None
    # the run went first and paid the amount in force when it ran; the change counts from then on
    assert result.created == 1 and [str(p.amount) for p in lines(world, "2026-12")] == ["620.00"]
    assert str(world.engine.models["care"].get_by_id(care.id).monthly_amount) == "500.00"
    run(world, "2027-01")
    assert [str(p.amount) for p in lines(world, "2027-01")] == ["500.00"]


def test_cards_backfill_registers_the_accounts_only_the_household_holds(app):
    from .conftest import engine_of
    eng = engine_of(app)
    Household, Card, Area = eng.models["household"], eng.models["bank_card"], eng.models["area"]
    AuditLog = eng.system.AuditLog
    mine = Household.select().where(Household.village.in_(
        Area.select(Area.id).where(Area.code.startswith("370405001")))).order_by(Household.id)
    other = Household.select().where(Household.village.in_(
        Area.select(Area.id).where(Area.code.startswith("370405101")))).order_by(Household.id).first()
    no_card = mine.where(~Household.id.in_(Card.select(Card.household)))
    a, b, c = list(no_card.limit(3))
    # the demo's other households of town1 without a card hold no account here
    Household.update(bank_account=None).where(Household.id.in_([h.id for h in no_card]),
                                               Household.id.not_in([a.id, b.id, c.id])).execute()
    # accounts written behind the register's back (before it existed, or by a script)
    Household.update(bank_account="6228480012340000001", account_name="甲", bank_name="农商银行") \
        .where(Household.id == a.id).execute()
    Household.update(bank_account="6228480012340000002", account_name=None, bank_name="农商银行") \
        .where(Household.id == b.id).execute()
    Household.update(bank_account="6228480012340000003", account_name="丙", bank_name=None) \
        .where(Household.id == c.id).execute()
    Card.delete().where(Card.household == other.id).execute()
    Household.update(bank_account="6228480012340000009", account_name="丁", bank_name="农商银行") \
        .where(Household.id == other.id).execute()
    cards_before, audit_before = Card.select().count(), AuditLog.select().count()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["cards", "backfill", "--dry-run", "--user", "town1"])
    assert dry.exit_code == 0, dry.output
    assert "可补登 2 户的银行卡，1 户未补登（预演，未写入）" in dry.output
    assert f"未补登 {Household.get_by_id(c.id)}：" in dry.output and "家庭户上没有开户行，请在“银行卡”中登记" in dry.output
    assert (Card.select().count(), AuditLog.select().count()) == (cards_before, audit_before)
    done = runner.invoke(args=["cards", "backfill", "--user", "town1"])
    assert done.exit_code == 0 and "已补登 2 户的银行卡，1 户未补登。" in done.output, done.output
    first, second = Card.get(Card.household == a.id), Card.get(Card.household == b.id)
    assert (first.account, first.account_name, first.status) == ("6228480012340000001", "甲", "active")
    assert second.account_name == Household.get_by_id(b.id).head_name            # no name on the household: the head's
    assert not Card.select().where(Card.household.in_([c.id, other.id])).exists()  # refused; outside town1's scope
    audit = AuditLog.get(AuditLog.entity == "bank_card", AuditLog.record_id == first.id)
    assert (audit.action, audit.username) == ("create", "town1")
    again = runner.invoke(args=["cards", "backfill", "--user", "town1"])
    assert "已补登 0 户的银行卡，1 户未补登。" in again.output
    assert "没有用户 nobody" in runner.invoke(args=["cards", "backfill", "--user", "nobody"]).output


def test_a_second_regular_line_saved_one_by_one_is_refused_in_chinese(world):
    """`unique_rows:` is said in Chinese by the save rule before the index answers with IntegrityError."""
    with_card(world, 0)
    approved(world, 0)
    run(world, "2026-11")
    Payment = world.engine.models["payment"]
    first = lines(world, "2026-11")[0]
    copy = {k: v for k, v in first.__data__.items() if k not in ("id", "form_token")}
    with pytest.raises(RecordInvalid, match="该户该月该救助项目已有一笔按月发放"):
        Payment(**copy).save()
    assert len(lines(world, "2026-11")) == 1
    Payment(**dict(copy, kind="back", amount=50)).save()             # a 补发 is a line of its own
    assert len(lines(world, "2026-11")) == 2
