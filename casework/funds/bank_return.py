"""The bank's return file (回盘): each line of the payment list marked paid (成功) or failed (失败).

The file is the payment list the bank received with three columns filled in: 处理结果 (成功/失败),
失败原因 and 入账日期. Every line is checked first — the 流水号 must name a pending line of this
township-month within the user's scope, once, with the same card number and amount — and nothing
changes until the whole file is clean; then all lines are marked in one transaction.
"""
from dataclasses import dataclass, field

from schema import clock, types

from casework.funds import payments
from casework.core import tabular
from casework.core.imports import Problem

NEEDED = ["流水号", "卡号", "金额（元）", "处理结果"]
OK, FAILED = {"成功", "已入账", "入账成功", "success"}, {"失败", "退回", "入账失败", "failed"}


@dataclass
class ReturnOutcome:
    problems: list = field(default_factory=list)
    paid: int = 0
    failed: int = 0

    @property
    def ok(self):
        return not self.problems


def apply(engine, user, township_id, month, data, filename, today=None):
    models = engine.models
    outcome = ReturnOutcome()
    township = payments._check(models, user, township_id, month)
    try:
        sheet, header_row, header = tabular.find_table(data, filename, tabular.limits(engine.settings),
                                                       "流水号", "请使用本系统导出的发放清单，填好“处理结果”后导入")
    except tabular.FileRejected as e:
        outcome.problems.append(Problem("", 0, "", "", str(e)))
        return outcome
    missing = [h for h in NEEDED if h not in header]
    if missing:
        outcome.problems.append(Problem(sheet.name, header_row + 1, "", "", "缺少列：" + "、".join(missing)))
        return outcome
    col = {h: header.index(h) for h in header}
    Payment = models["payment"]
    pending = {g["id"]: g for g in payments.bank_lines(engine, user, township.id, month)}
    seen, marks, row_of = set(), [], {}
    for offset, row in enumerate(sheet.rows[header_row + 1:], start=header_row + 2):
        cells = list(row) + [""] * (len(header) - len(row))
        if not any(str(c).strip() for c in cells):
            continue

        def bad(column, message, value=None):
            outcome.problems.append(Problem(sheet.name, offset, column, value if value is not None else cells[col[column]]
                                            if column in col else "", message))
        try:
            line_id = int(float(str(cells[col["流水号"]]).strip()))
        except ValueError:
            bad("流水号", "流水号应为数字")
            continue
        if line_id in seen:
            bad("流水号", "流水号重复出现")
            continue
        seen.add(line_id)
        line = pending.get(line_id)
        if line is None:
            bad("流水号", f"没有这笔待发的发放记录（{township.name} {month}）：可能不属于本乡镇本月，或已标记过")
            continue
        if str(cells[col["卡号"]]).strip() != (line["bank_account"] or ""):
            bad("卡号", "卡号与发放清单不一致")
            continue
        try:
            amount = types.get("money").coerce(cells[col["金额（元）"]], None)
        except types.CellError as e:
            bad("金额（元）", str(e))
            continue
        if amount != line["amount"]:
            bad("金额（元）", f"金额与发放清单不一致（应为 {line['amount']:.2f}）")
            continue
        result = str(cells[col["处理结果"]]).strip()
        if result not in OK | FAILED:
            bad("处理结果", "处理结果应填“成功”或“失败”")
            continue
        paid_on = today or clock.today()
        if "入账日期" in col and str(cells[col["入账日期"]]).strip():
            raw = cells[col["入账日期"]]
            paid_on = types.read("date", raw)
            if paid_on is None:
                bad("入账日期", "入账日期应写作 2026-05-10")
                continue
        reason = str(cells[col["失败原因"]]).strip() if "失败原因" in col else ""
        marks.append((line, result in OK, paid_on, reason))
        row_of[line_id] = offset
    if not marks and not outcome.problems:
        outcome.problems.append(Problem(sheet.name, 0, "", "", "文件中没有回盘数据行"))
    if outcome.problems:
        return outcome
    with models.db.atomic() as txn:
        # under the month's lock, a second file read before the first one committed finds its
        # lines marked: a line's result is written once, and a different result is refused
        payments.lock_month(models, township, month)
        labels = engine.registry.options["payment_status"]
        for group, paid, paid_on, reason in marks:
            marked = [line for line in Payment.select().where(Payment.id.in_(group["ids"]))
                      if line.status != "pending"]
            for line in marked:
                same = line.status == ("paid" if paid else "failed")
                outcome.problems.append(Problem(
                    sheet.name, row_of[group["id"]], "流水号", group["id"],
                    f"这笔已标记为“{labels.label_of(line.status)}”" +
                    ("（同样的结果已导入过）" if same else f"，本文件为“{'成功' if paid else '失败'}”：结果只记一次，未改")))
        if outcome.problems:
            txn.rollback()
            outcome.paid = outcome.failed = 0
            return outcome
        for group, paid, paid_on, reason in marks:
            for ledger_line in Payment.select().where(Payment.id.in_(group["ids"])):
                ledger_line.status = "paid" if paid else "failed"
                ledger_line.paid_on = paid_on if paid else None
                if not paid:
                    ledger_line.note = f"银行退回：{reason or '未注明原因'}"
                ledger_line.save()
            outcome.paid += paid
            outcome.failed += not paid
    return outcome
