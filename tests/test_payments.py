"""In care, the roster changes and the monthly payment run: an approval puts the household in care
from the next month; the run is idempotent, uses the amount in force each month, holds households
without a card; a closed month is never written again; the bank's list; row scope."""
import datetime as dt
import io
from decimal import Decimal

import pytest

from casework.funds import payments
from casework.core import system
from schema import RecordInvalid

from .test_workflow import World

D = dt.date


@pytest.fixture
def world(engine):
    return World(engine)


def approved(world, household=0, amount="620"):
    case = world.investigate(world.case("12", household=household, apply_date=D(2026, 9, 25)),
                             D(2026, 9, 28), D(2026, 9, 29))
    case = world.do(case, "propose", "town", on=D(2026, 9, 30), proposed_amount=amount)
    # the 3-day notice ends on 3 October, a holiday: it runs to 8 October, the next working day
    return world.do(case, "approve", "leader", on=D(2026, 10, 9), decided_amount=amount)


def with_card(world, household=0, account="6228480012345678901"):
    h = world.households[household]
    token = system.actor.set((None, "测试", None))
    world.engine.models["bank_card"].create(household=h.id, account_name=h.head_name, bank_name="台儿庄农商银行",
                                            account=account, status="active")
    system.actor.reset(token)


def run(world, month, user="town", township=0):
    return payments.run(world.engine, world.users[user], world.towns[township].id, month)


def change(world, care, kind, month, amount=None, reason="收入变化"):
    Change = world.engine.models["care_change"]
    token = system.actor.set((world.users["town"].id, "town", None))
    try:
        Change(care=care.id, kind=kind, effective_month=month, new_amount=amount, reason=reason).save()
    finally:
        system.actor.reset(token)


def lines(world, month):
    Payment = world.engine.models["payment"]
    return list(Payment.select().where(Payment.month == month).order_by(Payment.id))


def test_approval_puts_the_household_in_care_from_the_next_month(world):
    case = approved(world)
    Care, Change = world.engine.models["care"], world.engine.models["care_change"]
    care = Care.get(Care.case == case.id)
    assert (care.start_month, care.monthly_amount, care.status, care.assistance_type) == \
        ("2026-11", Decimal("620.00"), "in_care", "12")
    assert [c.kind for c in Change.select().where(Change.care == care.id)] == ["add"]
    assert care.head_name == world.households[0].head_name


def test_run_is_idempotent_and_holds_households_without_a_card(world):
    approved(world)
    assert run(world, "2026-10").created == 0                   # not yet in care
    result = run(world, "2026-11")
    assert (result.created, result.held) == (1, 1)
    assert lines(world, "2026-11")[0].status == "held" and "无有效银行卡" in lines(world, "2026-11")[0].note
    again = run(world, "2026-11")
    assert (again.created, again.existing) == (0, 1) and len(lines(world, "2026-11")) == 1
    with_card(world)
    line = run(world, "2026-12")
    assert line.created == 1 and lines(world, "2026-12")[0].status == "pending"
    assert lines(world, "2026-12")[0].bank_account == "6228480012345678901"


def test_each_month_pays_the_amount_in_force_that_month(world):
    with_card(world)
    case = approved(world)
    care = world.engine.models["care"].get(case=case.id)
    change(world, care, "raise", "2027-01", "700")
    change(world, care, "cancel", "2027-03", reason="家庭收入超过标准")
    for month in ("2026-11", "2026-12", "2027-01", "2027-02", "2027-03"):
        run(world, month)
    amounts = {m: [str(p.amount) for p in lines(world, m)] for m in ("2026-12", "2027-01", "2027-02", "2027-03")}
    assert amounts == {"2026-12": ["620.00"], "2027-01": ["700.00"], "2027-02": ["700.00"], "2027-03": []}
    care = world.engine.models["care"].get_by_id(care.id)
    assert (care.status, care.end_month, care.monthly_amount) == ("ended", "2027-02", Decimal("700.00"))


def test_roster_changes_are_checked(world):
    case = approved(world)
    care = world.engine.models["care"].get(case=case.id)
    with pytest.raises(RecordInvalid, match="应高于原金额"):
        change(world, care, "raise", "2026-12", "600")
    with pytest.raises(RecordInvalid, match="停发请选择“注销”"):
        change(world, care, "lower", "2026-12", "0")
    with pytest.raises(RecordInvalid, match="不能早于起始月份"):
        change(world, care, "lower", "2026-10", "500")
    with pytest.raises(RecordInvalid, match="新增只能经审批事项"):
        change(world, care, "add", "2026-12", "500")
    Change = world.engine.models["care_change"]
    first = Change.select().where(Change.care == care.id).first()
    first.reason = "改"
    with pytest.raises(RecordInvalid, match="不能修改"):
        first.save()


def test_a_closed_month_is_never_written_again(world):
    with_card(world)
    case = approved(world)
    run(world, "2026-11")
    with pytest.raises(payments.PaymentRefused, match="1 笔待发"):
        payments.close(world.engine, world.users["town"], world.towns[0].id, "2026-11")
    line = lines(world, "2026-11")[0]
    line.status, line.paid_on = "paid", D(2026, 11, 10)
    line.save()
    payments.close(world.engine, world.users["town"], world.towns[0].id, "2026-11")
    line.amount = Decimal("1")
    with pytest.raises(RecordInvalid, match="已关账"):
        line.save()
    with pytest.raises(payments.PaymentRefused, match="已关账"):
        run(world, "2026-11")
    care = world.engine.models["care"].get(case=case.id)
    with pytest.raises(RecordInvalid, match="已关账"):
        change(world, care, "lower", "2026-11", "500")
    assert lines(world, "2026-11")[0].amount == Decimal("620.00")


def test_row_scope_and_bad_input(world):
    approved(world)
    with pytest.raises(payments.PaymentRefused, match="不在您的管辖区划内"):
        run(world, "2026-11", user="other_town", township=0)
    with pytest.raises(payments.PaymentRefused, match="2026-05"):
        run(world, "2026-13")
    assert run(world, "2026-11", user="admin").created == 1


def test_bank_payment_list(world):
    from python_calamine import CalamineWorkbook
    from reports.bank import write_payment_list
    with_card(world)
    approved(world)
    run(world, "2026-11")
    buffer = io.BytesIO()
    labels = world.engine.registry.options["assistance_type"]
    count, total = write_payment_list(buffer, "镇0社会救助资金发放清单", "2026-11",
                                      payments.bank_lines(world.engine, world.users["town"], world.towns[0].id, "2026-11"),
                                      labels.label_of)
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(buffer.getvalue())).get_sheet_by_index(0).to_python()
    assert sheet[1][:2] == ["项目", "农村最低生活保障"] and sheet[2][:2] == ["发放年月", "2026-11"]
    assert sheet[3][:2] == ["笔数", 1] and sheet[4][:2] == ["合计（元）", 620]
    assert sheet[6][:8] == ["流水号", "户主姓名", "身份证号", "开户名", "开户行", "卡号", "金额（元）", "项目名称"]
    h = world.households[0]
    assert sheet[7][1:] == [h.head_name, h.head_id_number, h.head_name, "台儿庄农商银行", "6228480012345678901",
                            620, "农村最低生活保障"]


def _returned(world, edit):
    """The exported payment list with 处理结果 filled in by `edit(rows)`, as the bank sends it back."""
    return _returned_month(world, "2026-11", edit)


def two_lines(world):
    with_card(world, 0)
    with_card(world, 1)
    moved = world.households[1] = world.engine.models["household"].get_by_id(world.households[1].id)
    moved.village = world.villages[0]
    token = system.actor.set((None, "测试", None))
    moved.save()
    system.actor.reset(token)
    approved(world, 0)
    approved(world, 1, amount="480")
    run(world, "2026-11")
    return lines(world, "2026-11")


def test_bank_return_marks_paid_and_failed(world):
    from casework.funds import bank_return
    made = two_lines(world)
    assert [p.status for p in made] == ["pending", "pending"]

    def fill(rows):
        rows[7] += ["成功", "", "2026-11-10"]
        rows[8] += ["失败", "账户已销户", ""]
    outcome = bank_return.apply(world.engine, world.users["town"], world.towns[0].id, "2026-11",
                                _returned(world, fill), "回盘.xlsx")
    assert outcome.ok and (outcome.paid, outcome.failed) == (1, 1)
    after = lines(world, "2026-11")
    assert (after[0].status, after[0].paid_on) == ("paid", D(2026, 11, 10))
    assert after[1].status == "failed" and "账户已销户" in after[1].note


def test_a_bad_bank_return_changes_nothing(world):
    from casework.funds import bank_return
    two_lines(world)

    def fill(rows):
        rows[7] += ["成功"]
        rows[8][6] = 999                           # a wrong amount
        rows[8] += ["成功"]
        rows.append(list(rows[7]))                 # a duplicate line
        rows.append([99999, "某", "", "", "", "1", 10, "", "成功"])   # a line that matches nothing
    outcome = bank_return.apply(world.engine, world.users["town"], world.towns[0].id, "2026-11",
                                _returned(world, fill), "回盘.xlsx")
    messages = [(p.row, p.message) for p in outcome.problems]
    assert (9, "金额与发放清单不一致（应为 480.00）") in messages
    assert (10, "流水号重复出现") in messages
    assert any(row == 11 and "没有这笔待发的发放记录" in m for row, m in messages)
    assert [p.status for p in lines(world, "2026-11")] == ["pending", "pending"]
    outcome = bank_return.apply(world.engine, world.users["town"], world.towns[0].id, "2026-11", b"not a workbook",
                                "x.xlsx")
    assert outcome.problems and [p.status for p in lines(world, "2026-11")] == ["pending", "pending"]


def test_lines_not_confirmed_within_the_bank_days_are_flagged(world):
    two_lines(world)
    payments.mark_sent(world.engine, world.towns[0].id, "2026-11", D(2026, 11, 2))          # a Monday
    late = lambda today: payments.unconfirmed(world.engine, world.users["town"], world.towns[0].id, "2026-11", today)
    assert late(D(2026, 11, 5)) == 0                                # 3 working days: due 5 November
    assert late(D(2026, 11, 6)) == 2
    payments.mark_sent(world.engine, world.towns[0].id, "2026-11", D(2026, 11, 4))  # a re-export keeps the first date
    assert late(D(2026, 11, 6)) == 2


def test_one_active_bank_card_per_household(world):
    Card, H = world.engine.models["bank_card"], world.engine.models["household"]
    token = system.actor.set((None, "测试", None))
    try:
        h = world.households[0]
        first = Card.create(household=h, account_name=h.head_name, bank_name="农商银行", account="6228480000000000001")
        assert H.get_by_id(h.id).bank_account == "6228480000000000001"
        with pytest.raises(RecordInvalid, match="一户一卡"):
            Card.create(household=h, account_name=h.head_name, bank_name="邮储银行", account="6221880000000000002")
        first.status = "closed"
        with pytest.raises(RecordInvalid, match="注销日期和注销原因"):
            first.save()
        first.closed_on, first.close_reason = D(2026, 11, 1), "卡片丢失"
        first.save()
        assert H.get_by_id(h.id).bank_account is None
        Card.create(household=h, account_name=h.head_name, bank_name="邮储银行", account="6221880000000000002")
        assert H.get_by_id(h.id).bank_account == "6221880000000000002"
        first.status = "active"
        with pytest.raises(RecordInvalid, match="不能恢复使用"):
            first.save()
        assert Card.select().where(Card.household == h.id).count() == 2          # history kept
    finally:
        system.actor.reset(token)


def test_certificates_issued_replaced_and_revoked(world):
    case = approved(world)
    Cert, Care = world.engine.models["certificate"], world.engine.models["care"]
    care = Care.get(case=case.id)
    first = Cert.get(Cert.care == care.id)
    assert (first.number, first.kind, first.status) == ("3704050011" + "00001", "1", "valid")
    assert first.holder == world.households[0].head_name
    token = system.actor.set((None, "测试", None))
    try:
        with pytest.raises(RecordInvalid, match="补换证须写明原因"):
            Cert(care=care.id, kind="1").save()
        second = Cert(care=care.id, kind="1", replace_reason="证件污损")
        second.save()
        assert second.number == "370405001100002"
        first = Cert.get_by_id(first.id)
        assert first.status == "revoked" and "证件污损" in first.revoke_reason and "370405001100002" in first.revoke_reason
        first.number = "X"
        with pytest.raises(RecordInvalid, match="不能修改"):
            first.save()
    finally:
        system.actor.reset(token)
    change(world, care, "cancel", "2027-01", reason="死亡")
    assert Cert.get_by_id(second.id).status == "revoked"


def test_reserve_fund_pays_temporary_aid_and_never_goes_negative(world):
    from casework.funds import reserve
    Entry = world.engine.models["reserve_entry"]
    town = world.towns[0]
    assert reserve.balance(world.engine.models, town.id) == Decimal("50000.00")
    case = world.investigate(world.case("32", materials="id_card,hardship_statement,verification_auth,pledge"),
                             D(2026, 9, 28), D(2026, 9, 29), proposed_amount="2500")
    world.do(case, "approve", "leader", decided_amount="2500")
    assert reserve.balance(world.engine.models, town.id) == Decimal("47500.00")
    entry = Entry.get(Entry.case == case.id)
    assert (entry.kind, entry.amount, entry.balance) == ("payment", Decimal("2500.00"), Decimal("47500.00"))
    token = system.actor.set((None, "测试", None))
    try:
        with pytest.raises(RecordInvalid, match="备用金余额不足"):
            Entry.create(township=town, kind="refund", amount=60000, entry_date=D(2026, 10, 1))
    finally:
        system.actor.reset(token)
    # a township whose reserve is spent cannot approve more from it: the approval is refused as a whole
    token = system.actor.set((None, "测试", None))
    Entry.create(township=town, kind="refund", amount=47000, entry_date=D(2026, 10, 2))
    system.actor.reset(token)
    big = world.investigate(world.case("32", materials="id_card,hardship_statement,verification_auth,pledge"),
                            D(2026, 9, 28), D(2026, 9, 29), proposed_amount="800")
    with pytest.raises(Exception, match="备用金余额不足"):
        world.do(big, "approve", "leader", decided_amount="800")
    assert world.engine.models["case"].get_by_id(big.id).state == "reviewing"
    assert reserve.balance(world.engine.models, town.id) == Decimal("500.00")


def test_back_pay_and_deductions_go_into_an_open_month(world):
    from casework.funds import bank_return
    with_card(world)
    case = approved(world)
    care = world.engine.models["care"].get(case=case.id)
    town = world.users["town"]
    run(world, "2026-11")
    line = lines(world, "2026-11")[0]
    line.status = "paid"
    line.save()
    payments.close(world.engine, town, world.towns[0].id, "2026-11")
    with pytest.raises(payments.PaymentRefused, match="已关账"):
        payments.adjust(world.engine, town, care.id, "2026-11", "back", "100", "少发")
    run(world, "2026-12")
    payments.adjust(world.engine, town, care.id, "2026-12", "back", "100", "11月少发100元")
    payments.adjust(world.engine, town, care.id, "2026-12", "deduct", "20", "多发")
    with pytest.raises(payments.PaymentRefused, match="不足扣减"):
        payments.adjust(world.engine, town, care.id, "2026-12", "deduct", "1000", "多发")
    with pytest.raises(payments.PaymentRefused, match="理由"):
        payments.adjust(world.engine, town, care.id, "2026-12", "back", "5", " ")
    with pytest.raises(payments.PaymentRefused, match="不在您的管辖区划内"):
        payments.adjust(world.engine, world.users["other_town"], care.id, "2026-12", "back", "5", "x")
    assert sorted((p.kind, str(p.amount)) for p in lines(world, "2026-12")) == \
        [("back", "100.00"), ("deduct", "-20.00"), ("regular", "620.00")]
    groups = list(payments.bank_lines(world.engine, town, world.towns[0].id, "2026-12"))
    assert len(groups) == 1 and groups[0]["amount"] == Decimal("700.00") and len(groups[0]["ids"]) == 3

    def fill(rows):
        rows[7] += ["成功", "", "2026-12-08"]
    data = _returned_month(world, "2026-12", fill)
    outcome = bank_return.apply(world.engine, town, world.towns[0].id, "2026-12", data, "回盘.xlsx")
    assert outcome.ok and outcome.paid == 1
    assert {p.status for p in lines(world, "2026-12")} == {"paid"}


def _returned_month(world, month, edit):
    import xlsxwriter
    from python_calamine import CalamineWorkbook
    from reports.bank import write_payment_list
    buffer = io.BytesIO()
    write_payment_list(buffer, "清单", month, payments.bank_lines(
        world.engine, world.users["town"], world.towns[0].id, month),
        world.engine.registry.options["assistance_type"].label_of)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(buffer.getvalue())).get_sheet_by_index(0).to_python()
    rows[6] = rows[6] + ["处理结果", "失败原因", "入账日期"]
    edit(rows)
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            elif value not in (None, ""):
                sheet.write_string(r, c, str(value))
    book.close()
    return out.getvalue()


def test_recomputation_goes_through_the_workflow_as_an_adjustment(world):
    case = approved(world)                          # decided 620 in October, in care from November
    care = world.engine.models["care"].get(case=case.id)
    offered = [t.name for t, reason in world.flow.offered(case, world.users["town"])]
    assert offered == ["recompute"]
    with pytest.raises(Exception, match="相同"):
        world.do(case, "recompute", "town", on=D(2026, 11, 20), decided_amount="620")
    case = world.do(case, "recompute", "town", on=D(2026, 11, 20), decided_amount="540", opinion="家庭收入增加")
    assert case.state == "approved" and str(case.decided_amount) == "540.00"
    Change = world.engine.models["care_change"]
    last = Change.select().where(Change.care == care.id).order_by(Change.id.desc()).first()
    assert (last.kind, last.effective_month, str(last.new_amount)) == ("lower", "2026-12", "540.00")
    assert world.steps(case)[-1] == ("recompute", "approved", "town姓名")
    run(world, "2026-11")
    run(world, "2026-12")
    assert [str(p.amount) for p in lines(world, "2026-11")] == ["620.00"]
    assert [str(p.amount) for p in lines(world, "2026-12")] == ["540.00"]


def test_an_interrupted_run_leaves_nothing(world, monkeypatch):
    two_lines_before = two_lines                     # two households in care, the run already done once
    two_lines_before(world)
    Payment = world.engine.models["payment"]
    calls = []
    real = payments.insert_rows

    def dies_on_the_second_chunk(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("进程被终止")
        return real(*args, **kw)
    monkeypatch.setattr(payments, "CHUNK", 1)
    monkeypatch.setattr(payments, "insert_rows", dies_on_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        run(world, "2026-12")
    assert Payment.select().where(Payment.month == "2026-12").count() == 0
    monkeypatch.setattr(payments, "insert_rows", real)
    assert run(world, "2026-12").created == 2


def test_bank_list_cells_never_become_formulas():
    from python_calamine import CalamineWorkbook
    from reports.bank import write_payment_list
    buffer = io.BytesIO()
    line = {"id": 7, "head_name": "=HYPERLINK(\"x\")", "head_id_number": "11010519491231002X", "account_name": "+1",
            "bank_name": "@bank", "bank_account": "6228480012345678901", "amount": Decimal("12.50"),
            "assistance_type": "12"}
    write_payment_list(buffer, "清单", "2026-11", [line], lambda code: "农村低保")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(buffer.getvalue())).get_sheet_by_index(0).to_python()
    assert sheet[7] == [7, "=HYPERLINK(\"x\")", "11010519491231002X", "+1", "@bank", "6228480012345678901", 12.5, "农村低保"]
    import zipfile
    xml = zipfile.ZipFile(io.BytesIO(buffer.getvalue())).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml


def test_bulk_insert_keeps_every_character(world):
    from schema.models import insert_rows
    Payment = world.engine.models["payment"]
    note = "制表符\t换行\n回车\r反斜杠\\N 空值"
    row = {"household": world.households[0].id, "village": world.villages[0].id, "assistance_type": "12",
           "month": "2026-11", "kind": "regular", "amount": Decimal("12.34"), "status": "pending", "note": note,
           "paid_on": None, "created_at": dt.datetime(2026, 11, 1, 8, 30)}
    insert_rows(Payment, [row], list(row))
    back = Payment.get(Payment.note.is_null(False))
    assert (back.note, back.amount, back.paid_on, back.created_at) == (note, Decimal("12.34"), None,
                                                                      dt.datetime(2026, 11, 1, 8, 30))
