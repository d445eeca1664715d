"""The case pages over HTTP: transitions posted directly to the server are checked there (role,
area, stale page, missing fields), the page offers exactly the allowed buttons, deadlines list."""
import datetime as dt
import io
import re
from decimal import Decimal

from .conftest import engine_of
from schema import clock

MATERIALS = ["id_card", "hukou_book", "hardship_statement", "verification_auth", "pledge"]


def household_in(app, village_code):
    """A household of the village below the 低保 standard."""
    eng = engine_of(app)
    H, A = eng.models["household"], eng.models["area"]
    return H.select().where(H.village.in_(A.select(A.id).where(A.code == village_code)),
                            H.income_per_capita < 500).order_by(H.id).first()


def new_case(b, h, type_code=None, **extra):
    """A 低保 case: 城市 for a household of 城镇 hukou, 农村 for 农村 unless another type is given."""
    type_code = type_code or {"1": "11", "2": "12"}[h.hukou_type]
    data = {"household": h.id, "assistance_type": type_code, "applicant_name": h.head_name,
            "applicant_id_number": h.head_id_number, "apply_date": dt.date.today().isoformat(),
            "channel": "window", "materials": MATERIALS}
    data.update(extra)
    r = b.post("/admin/case/new/", data)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    return r


def latest_case(app):
    Case = engine_of(app).models["case"]
    return Case.select().order_by(Case.id.desc()).first()


def page(b, case_id):
    r = b.get(f"/admin/case/details/?id={case_id}")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def seen_of(html):
    return re.search(r'name="seen" value="(\d*)"', html).group(1)


def act(b, case_id, name, **form):
    html = page(b, case_id)
    data = {"transition": name, "seen": seen_of(html)} if 'name="seen"' in html else {"transition": name}
    data.update(form)
    return b.post(f"/admin/case/transition/?id={case_id}", data)


def steps(app, case_id):
    Step = engine_of(app).models["case_step"]
    return [s.action for s in Step.select().where(Step.case == case_id).order_by(Step.id)]


def test_buttons_follow_role_and_state(app, browser_for):
    town = browser_for("town1")
    new_case(town, household_in(app, "370405001001"))
    case = latest_case(app)
    html = page(town, case.id)
    assert 'id="btn-start_investigation"' in html and 'id="btn-withdraw"' in html
    assert 'id="btn-approve"' not in html
    assert "受理登记" in html and "运河街道民政办" in html          # the first signed step
    village = browser_for("village1")
    assert 'id="btn-start_investigation"' not in page(village, case.id)
    assert "当前环节没有您可以办理的操作" in page(village, case.id)


def test_refusals_posted_directly_change_nothing(app, browser_for):
    town = browser_for("town1")
    new_case(town, household_in(app, "370405001001"))
    case = latest_case(app)
    village = browser_for("village1")
    r = act(village, case.id, "start_investigation")
    assert r.status_code == 302
    assert "村级协理员" in village.get(r.headers["Location"]).get_data(as_text=True)
    other = browser_for("town2")
    assert other.post(f"/admin/case/transition/?id={case.id}", {"transition": "start_investigation"}).status_code == 404
    leader = browser_for("leader1")
    r = act(leader, case.id, "approve", decided_amount="500", opinion="同意")
    assert "不能执行" in leader.get(r.headers["Location"]).get_data(as_text=True)
    # without the CSRF token
    r = town.post(f"/admin/case/transition/?id={case.id}", {"transition": "start_investigation"}, csrf=False)
    assert r.status_code == 400
    assert steps(app, case.id) == ["register"]
    assert latest_case(app).state == "accepted"


def test_stale_page_is_refused(app, browser_for):
    town = browser_for("town1")
    new_case(town, household_in(app, "370405001001"))
    case = latest_case(app)
    old_page = page(town, case.id)
    assert act(town, case.id, "start_investigation").status_code == 302
    r = town.post(f"/admin/case/transition/?id={case.id}",
                  {"transition": "withdraw", "seen": seen_of(old_page), "opinion": "撤回"})
    assert "页面上的内容已过期" in town.get(r.headers["Location"]).get_data(as_text=True)
    assert latest_case(app).state == "investigating"


def test_missing_fields_keep_what_was_typed(app, browser_for):
    town = browser_for("town1")
    new_case(town, household_in(app, "370405001001"))
    case = latest_case(app)
    act(town, case.id, "start_investigation")
    r = act(town, case.id, "record_home_visit", investigator_1="张明", home_visit_record="入户查看了住房")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "调查人（二） — 此项为必填项" in html
    assert "入户查看了住房" in html and 'value="张明"' in html
    assert steps(app, case.id) == ["register", "start_investigation"]


def test_township_path_with_attachment_and_timeline(app, browser_for):
    town = browser_for("town1")
    new_case(town, household_in(app, "370405001001"))
    case = latest_case(app)
    act(town, case.id, "start_investigation")
    html = page(town, case.id)
    r = town.post(f"/admin/case/transition/?id={case.id}", {
        "transition": "record_home_visit", "seen": seen_of(html), "investigator_1": "张明", "investigator_2": "李红",
        "home_visit_date": dt.date.today().isoformat(), "home_visit_record": "住房简陋",
        "attachment": (io.BytesIO(b"%PDF-1.4 scan"), "入户调查表.pdf")}, content_type="multipart/form-data")
    assert r.status_code == 302
    html = page(town, case.id)
    assert "附件：入户调查表.pdf" in html
    Step = engine_of(app).models["case_step"]
    step = Step.select().where(Step.case == case.id, Step.action == "record_home_visit").get()
    r = town.get(f"/admin/case/attachment/?step={step.id}")
    assert r.status_code == 200 and r.data == b"%PDF-1.4 scan"
    assert browser_for("town2").get(f"/admin/case/attachment/?step={step.id}").status_code == 404
    r = town.post(f"/admin/case/transition/?id={case.id}", {
        "transition": "finish_investigation", "seen": seen_of(html), "verification_record": "核对无异常",
        "verification_result": "pass", "attachment": (io.BytesIO(b"MZ"), "virus.exe")},
        content_type="multipart/form-data")
    assert "附件只能是" in r.get_data(as_text=True)
    assert latest_case(app).state == "investigating"


def test_step_records_cannot_be_edited_by_anyone(app, browser_for):
    town = browser_for("town1")
    new_case(town, household_in(app, "370405001001"))
    Step = engine_of(app).models["case_step"]
    step = Step.select().order_by(Step.id.desc()).first()
    admin = browser_for("admin")
    assert admin.get(f"/admin/case_step/edit/?id={step.id}").status_code == 403
    assert admin.post("/admin/case_step/delete/", {"id": step.id}).status_code == 403
    assert admin.get("/admin/case_step/new/").status_code == 403


def test_deadlines_page_and_home_counts(app, browser_for):
    eng = engine_of(app)
    town = browser_for("town1")
    new_case(town, household_in(app, "370405001001"), apply_date="2026-09-01")
    case = latest_case(app)
    assert case.due_date < dt.date.today()
    r = town.get("/admin/deadlines/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and case.case_no in html
    home = town.get("/admin/").get_data(as_text=True)
    assert "已逾期的救助事项" in home
    other = browser_for("town2").get("/admin/deadlines/").get_data(as_text=True)
    assert case.case_no not in other
    assert eng.flow.overdue(eng.models["user"].get(username="town2")).where(
        eng.models["case"].id == case.id).count() == 0


def test_settings_profile_switch(app, browser_for):
    new_case(browser_for("town1"), household_in(app, "370405001001"), apply_date="2026-09-25")
    case = latest_case(app)
    flow = engine_of(app).flow

    def investigation_due():
        return {d.label: d.due for d in flow.deadlines(latest_case(app))}["调查核对"]
    assert investigation_due() == dt.date(2026, 10, 13)          # 8 working days (Taierzhuang)
    assert case.due_date == dt.date(2026, 9, 30)                # started within 3 working days
    admin = browser_for("admin")
    r = admin.post("/admin/settings/profile/", {"profile": "national"})
    assert r.status_code == 302
    assert engine_of(app).settings.get("notice_days") == 7
    assert investigation_due() == dt.date(2026, 10, 22)         # 15 working days
    assert browser_for("town1").post("/admin/settings/profile/", {"profile": "taierzhuang"}).status_code == 403
    assert engine_of(app).settings.get("total_days") == 20      # approval delegated to the township


def to_publicity(app, case, amount="420"):
    eng = engine_of(app)
    User = eng.models["user"]
    town, village = User.get(username="town1"), User.get(username="village1")
    eng.flow.perform(case.id, "start_investigation", town, {})
    eng.flow.perform(case.id, "record_home_visit", village, {
        "home_visit_date": dt.date.today().isoformat(), "investigator_1": "张明", "investigator_2": "李红",
        "home_visit_record": "入户"})
    eng.flow.perform(case.id, "finish_investigation", town, {"verification_record": "无异常", "verification_result": "pass"})
    eng.flow.perform(case.id, "propose", town, {"proposed_amount": amount})
    return eng.models["case"].get_by_id(case.id)


def test_public_notice_shows_only_what_may_be_published(app, browser_for):
    from python_calamine import CalamineWorkbook
    town = browser_for("town1")
    h = household_in(app, "370405001001")
    new_case(town, h)
    case = to_publicity(app, latest_case(app))
    village_id = h.__data__["village"]
    url = f"/admin/notices/publicity/?village={village_id}&date={dt.date.today().isoformat()}"
    html = town.get(url).get_data(as_text=True)
    full = h.head_id_number
    masked = full[:4] + "*" * 10 + full[-4:]
    assert masked in html and full not in html
    assert h.head_name in html and "420.00" in html and "中心社区社会救助审核确认公示" in html
    r = town.get(f"/admin/notices/publicity/xlsx?village={village_id}&date={dt.date.today().isoformat()}")
    assert r.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(r.data)).get_sheet_by_index(0).to_python()
    assert sheet[1][:5] == ["申请人", "身份证号", "家庭人口", "救助类别", "拟救助金额（元）"]
    assert sheet[2][1] == masked and full not in str(sheet)
    assert "健康" not in str(sheet) and "收入" not in str(sheet)
    assert browser_for("town2").get(url).status_code == 404
    # the day after the notice ends, the case is no longer on it
    after = (case.notice_end + dt.timedelta(days=1)).isoformat()
    assert h.head_name not in town.get(f"/admin/notices/publicity/?village={village_id}&date={after}").get_data(as_text=True)


def docx_text(data):
    from docx import Document
    doc = Document(io.BytesIO(data))
    return "\n".join([p.text for p in doc.paragraphs] +
                     [c.text for t in doc.tables for row in t.rows for c in row.cells])


def test_documents_are_filled_from_the_case(app, browser_for):
    eng = engine_of(app)
    town = browser_for("town1")
    h = household_in(app, "370405001001")
    new_case(town, h, materials=["id_card", "pledge"])
    case = latest_case(app)
    html = page(town, case.id)
    assert "一次性告知书" in html and "不予批准告知书" not in html
    r = town.get(f"/admin/case/document/?id={case.id}&name=missing_materials")
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and h.head_name in text
    for label in ("户口簿", "家庭困难情况说明", "经济状况核对授权书"):
        assert label in text
    assert "<li>身份证</li>" not in text and "运河街道" in text
    r = town.get(f"/admin/case/document/?id={case.id}&name=missing_materials&format=docx")
    assert r.status_code == 200 and "户口簿" in docx_text(r.data) and h.head_name in docx_text(r.data)
    # approval form: the names of the handler, the reviewer and the leader
    case.materials = ",".join(MATERIALS)
    case.save()
    to_publicity(app, case)
    User = eng.models["user"]
    clock.set(lambda: dt.date.today() + dt.timedelta(days=10))     # after the notice period
    eng.flow.perform(case.id, "approve", User.get(username="leader1"), {"decided_amount": "420"}, opinion="同意救助")
    text = docx_text(town.get(f"/admin/case/document/?id={case.id}&name=approval_form&format=docx").data)
    assert "运河街道民政办" in text and "运河街道分管领导" in text and "同意救助" in text and "420.00" in text
    assert town.get(f"/admin/case/document/?id={case.id}&name=denial_notice").status_code == 404
    assert browser_for("town2").get(f"/admin/case/document/?id={case.id}&name=approval_form").status_code == 404


def test_denial_notice_carries_the_reasons(app, browser_for):
    eng = engine_of(app)
    town = browser_for("town1")
    new_case(town, household_in(app, "370405001001"))
    case = latest_case(app)
    User = eng.models["user"]
    eng.flow.perform(case.id, "start_investigation", User.get(username="town1"), {})
    eng.flow.perform(case.id, "fail_verification", User.get(username="town1"),
                     {"verification_record": "名下有车辆", "denial_reason": "家庭拥有机动车辆，不符合条件"}, opinion="不予批准")
    html = town.get(f"/admin/case/document/?id={case.id}&name=denial_notice").get_data(as_text=True)
    assert "家庭拥有机动车辆，不符合条件" in html
    # a township decision is appealed to the county government (行政复议法 2023 art. 24), in 60 days
    assert "自收到本告知书之日起60日内向台儿庄区人民政府申请行政复议" in html and "6个月内" in html
    assert "县民政局申请行政复议" not in html
    # the delivery is recorded as a signed step; a date before the decision is refused, nothing written
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    r = act(town, case.id, "serve_denial_notice", notice_served_on=yesterday)
    assert r.status_code == 200 and "送达日期不能早于作出决定的日期" in r.get_data(as_text=True)
    assert latest_case(app).notice_served_on is None
    r = act(town, case.id, "serve_denial_notice", notice_served_on=dt.date.today().isoformat())
    assert r.status_code == 302 and latest_case(app).notice_served_on == dt.date.today()
    assert steps(app, case.id)[-1] == "serve_denial_notice"
    html = town.get(f"/admin/case/document/?id={case.id}&name=denial_notice").get_data(as_text=True)
    today = dt.date.today()
    assert f"送达日期：{today.year}年{today.month}月{today.day}日" in html or f"送达日期：{today.isoformat()}" in html


def test_a_broken_document_template_is_named(tmp_path):
    import shutil
    import pytest
    from casework.engine import Engine
    from reports import document
    from schema import SchemaError
    folder = tmp_path / "documents"
    shutil.copytree(document.HERE, folder)
    (folder / "bad.yaml").write_text("name: bad\nlabel: 坏模板\nentity: case\nblocks:\n  - {text: '{no_such_field}'}\n",
                                     encoding="utf-8")
    e = Engine("sqlite:///:memory:")
    with pytest.raises(SchemaError, match="bad.yaml.*no_such_field"):
        document.load(e.registry, str(folder))


def test_command_line(app, browser_for):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["calendar", "add-working-days", "2026-09-30", "1"])
    assert r.exit_code == 0 and r.output.strip() == "2026-10-08"
    r = runner.invoke(args=["calendar", "add-working-days", "2026-10-09", "1"])
    assert r.output.strip() == "2026-10-10"                       # a make-up working Saturday
    r = runner.invoke(args=["calendar", "add-working-days", "2026-12-30", "5"])
    assert r.exit_code != 0 and "2027年的法定节假日安排尚未录入" in r.output
    r = runner.invoke(args=["calendar", "add-working-days", "30/09/2026", "1"])
    assert r.exit_code != 0 and "日期格式" in r.output
    new_case(browser_for("town1"), household_in(app, "370405001001"), apply_date="2026-09-01")
    case = latest_case(app)
    r = runner.invoke(args=["cases", "overdue", "--township", "370405001"])
    assert r.exit_code == 1 and case.case_no in r.output
    assert "涧头集镇" not in r.output
    r = runner.invoke(args=["cases", "overdue", "--township", "370405999"])
    assert r.exit_code == 0 and "共 0 件逾期" in r.output
    r = runner.invoke(args=["settings", "profile", "national"])
    assert r.exit_code == 0 and engine_of(app).settings.get("total_days") == 20
    r = runner.invoke(args=["settings", "profile", "nowhere"])
    assert r.exit_code != 0 and "没有设置方案" in r.output


def test_case_page_shows_the_computed_amount_and_prefills_the_proposal(app, browser_for):
    eng = engine_of(app)
    town = browser_for("town1")
    H, A = eng.models["household"], eng.models["area"]
    h = H.select().where(H.village == A.get(code="370405001001").id, H.income_per_capita < 300,
                         H.member_count >= 2).order_by(H.id).first()
    new_case(town, h)
    case = latest_case(app)
    User = eng.models["user"]
    eng.flow.perform(case.id, "start_investigation", User.get(username="town1"), {})
    eng.flow.perform(case.id, "record_home_visit", User.get(username="village1"), {
        "home_visit_date": dt.date.today().isoformat(), "investigator_1": "张明", "investigator_2": "李红",
        "home_visit_record": "入户"})
    eng.flow.perform(case.id, "finish_investigation", User.get(username="town1"),
                     {"verification_record": "无异常", "verification_result": "pass"})
    computed = eng.flow.breakdown(latest_case(app))
    html = page(town, case.id)
    assert "救助金额测算" in html and "示例数据" in html
    # urban standard 920 (sample); (920 − per-capita income) × members
    expected = (Decimal(920) - h.income_per_capita) * h.member_count
    assert computed.amount == expected.quantize(Decimal("1"))
    form = re.search(r'<input[^>]*id="propose-proposed_amount"[^>]*>', html).group(0)
    assert f'value="{computed.amount}"' in form


def test_payment_screen(app, browser_for):
    eng = engine_of(app)
    Care, Payment, Area = eng.models["care"], eng.models["payment"], eng.models["area"]
    assert Care.select().count() > 0                           # demo approvals put households in care
    town = Area.get(code="370405001")
    month = clock.today().strftime("%Y-%m")                 # the demo closes every month before this one
    b = browser_for("town1")
    r = b.post("/admin/payments/run", {"township": town.id, "month": month})
    html = b.get(r.headers["Location"]).get_data(as_text=True)
    assert "新生成" in html and "未重复生成" in html
    made = Payment.select().where(Payment.month == month).count()
    assert made > 0
    r = b.post("/admin/payments/run", {"township": town.id, "month": month})
    assert "新生成 0 笔" in b.get(r.headers["Location"]).get_data(as_text=True)
    assert Payment.select().where(Payment.month == month).count() == made
    r = b.get(f"/admin/payments/bank.xlsx?township={town.id}&month={month}")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    village = browser_for("village1")
    assert 'id="run-payments"' not in village.get(f"/admin/payments/?township={town.id}&month={month}").get_data(as_text=True)
    r = village.post("/admin/payments/close", {"township": town.id, "month": month})
    assert "不能生成发放台账或关账" in village.get(r.headers["Location"]).get_data(as_text=True)
    other = browser_for("town2")
    r = other.post("/admin/payments/run", {"township": town.id, "month": month})
    assert "不在您的管辖区划内" in other.get(r.headers["Location"]).get_data(as_text=True)
    # nobody edits ledger lines through a form
    line = Payment.select().first()
    assert browser_for("admin").get(f"/admin/payment/edit/?id={line.id}").status_code == 403


def test_payment_command_line(app, tmp_path):
    eng = engine_of(app)
    month = clock.today().strftime("%Y-%m")                 # the demo closes every month before this one
    runner = app.test_cli_runner()
    r = runner.invoke(args=["payments", "run", "--township", "370405001", "--month", month])
    assert r.exit_code == 0 and "新生成" in r.output, r.output
    out = tmp_path / "list.xlsx"
    r = runner.invoke(args=["payments", "bank-list", "--township", "370405001", "--month", month, "--out", str(out)])
    assert r.exit_code == 0 and out.exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("流水号,卡号,金额（元）,处理结果\n1,2,3,成功\n", encoding="utf-8")
    r = runner.invoke(args=["payments", "bank-return", "--township", "370405001", "--month", month, str(bad)])
    assert r.exit_code != 0 and "未作任何标记" in r.output
    r = runner.invoke(args=["payments", "close", "--township", "370405001", "--month", month])
    assert r.exit_code != 0 and "待发" in r.output
    r = runner.invoke(args=["payments", "run", "--township", "999", "--month", month])
    assert r.exit_code != 0 and "没有乡镇" in r.output


def test_roster_change_notice(app, browser_for):
    eng = engine_of(app)
    Care, Change = eng.models["care"], eng.models["care_change"]
    care = Care.select().join(eng.models["area"], on=(Care.village == eng.models["area"].id)).where(
        eng.models["area"].code.startswith("370405001")).first()
    town = browser_for("town1")
    r = town.post("/admin/care_change/new/", {"care": care.id, "kind": "lower", "effective_month": "2027-06",
                                               "new_amount": "100", "reason": "家庭成员就业，收入增加"})
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    change = Change.select().order_by(Change.id.desc()).first()
    assert (change.kind, str(change.old_amount), str(change.new_amount)) == ("lower", str(care.monthly_amount), "100.00")
    html = town.get(f"/admin/care_change/details/?id={change.id}").get_data(as_text=True)
    assert "救助金调整（停发）告知书" in html
    doc = town.get(f"/admin/care_change/document/?id={change.id}&name=care_change_notice").get_data(as_text=True)
    assert care.head_name in doc and "2027-06" in doc and "调减" in doc and "家庭成员就业" in doc
    r = town.post("/admin/care_change/new/", {"care": care.id, "kind": "raise", "effective_month": "2027-07",
                                               "new_amount": "50", "reason": "x"})
    assert "应高于原金额" in r.get_data(as_text=True)
    assert browser_for("village1").get("/admin/care_change/new/").status_code == 403


def test_back_pay_form_on_the_care_page(app, browser_for):
    eng = engine_of(app)
    Care, Payment, Area = eng.models["care"], eng.models["payment"], eng.models["area"]
    care = Care.select().where(Care.village.in_(Area.select(Area.id).where(
        Area.code.startswith("370405001")))).first()
    town = browser_for("town1")
    month = "2027-02"
    assert "补发或扣减" in town.get(f"/admin/care/details/?id={care.id}").get_data(as_text=True)
    r = town.post(f"/admin/care/adjust/?id={care.id}", {"month": month, "kind": "back", "amount": "50",
                                                          "reason": "10月少发"})
    assert "已登记补发 50.00 元" in town.get(r.headers["Location"]).get_data(as_text=True)
    assert Payment.select().where(Payment.care == care.id, Payment.kind == "back").count() == 1
    r = town.post(f"/admin/care/adjust/?id={care.id}", {"month": month, "kind": "deduct", "amount": "abc",
                                                          "reason": "x"})
    assert "金额应为数字" in town.get(r.headers["Location"]).get_data(as_text=True)
    village = browser_for("village1")
    assert "补发或扣减" not in village.get(f"/admin/care/details/?id={care.id}").get_data(as_text=True)
    assert browser_for("town2").post(f"/admin/care/adjust/?id={care.id}", {"month": month}).status_code == 404


def test_certificate_print_page(app, browser_for):
    eng = engine_of(app)
    Cert, Area = eng.models["certificate"], eng.models["area"]
    cert = Cert.select().where(Cert.village.in_(Area.select(Area.id).where(
        Area.code.startswith("370405001"))), Cert.kind == "1").first()
    town = browser_for("town1")
    html = town.get(f"/admin/certificate/document/?id={cert.id}&name=certificate").get_data(as_text=True)
    assert cert.number in html and cert.holder in html and "运河街道" in html and "最低生活保障证" in html
    r = town.get(f"/admin/certificate/document/?id={cert.id}&name=certificate&format=docx")
    assert r.status_code == 200 and cert.number in docx_text(r.data)
    assert browser_for("town2").get(f"/admin/certificate/document/?id={cert.id}&name=certificate").status_code == 404


def test_money_records_stay_within_the_township(app, browser_for):
    eng = engine_of(app)
    Area = eng.models["area"]
    mine = Area.select(Area.id).where(Area.code.startswith("370405001"), Area.level == "village")
    other = browser_for("town2")
    for entity in ("care", "payment", "certificate", "care_change", "bank_card"):
        model = eng.models[entity]
        row = model.select().where(model.village.in_(mine)).first()
        assert row is not None, entity
        assert other.get(f"/admin/{entity}/details/?id={row.id}").status_code == 404, entity
        assert browser_for("town1").get(f"/admin/{entity}/details/?id={row.id}").status_code == 200, entity
        listed = other.get(f"/admin/{entity}/").get_data(as_text=True)
        assert f"/admin/{entity}/details/?id={row.id}&" not in listed, entity
    Entry = eng.models["reserve_entry"]
    entry = Entry.select().where(Entry.township == Area.get(code="370405001").id).first()
    assert other.get(f"/admin/reserve_entry/details/?id={entry.id}").status_code == 404
    assert browser_for("village1").get("/admin/reserve_entry/").status_code == 403
    # the roster of another township's village
    village = Area.get(code="370405001001")
    assert other.get(f"/admin/roster/?village={village.id}&month=2026-10").status_code == 404
    html = browser_for("village1").get(f"/admin/roster/?village={village.id}&month=2026-10").get_data(as_text=True)
    assert "中心社区 社会救助对象花名册（2026-10）" in html


def test_income_items_entered_on_the_web_drive_the_case_page_breakdown(app, browser_for):
    town = browser_for("town1")
    h = household_in(app, "370405001001")
    eng = engine_of(app)
    Member, Item = eng.models["member"], eng.models["income_item"]
    first = Member.select().where(Member.household == h.id).order_by(Member.id).first()
    persons = Member.select().where(Member.household == h.id, Member.archived == False).count()  # noqa: E712
    for item, category, amount in [("labour", "wages", "300"), ("disability_allowance", "transfer", "200")]:
        r = town.post("/admin/income_item/new/", {"household": h.id, "member": first.id, "category": category,
                                                  "item": item, "monthly_amount": amount, "basis": "入户调查"})
        assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    assert Item.select().where(Item.household == h.id).count() == 2
    new_case(town, h)
    html = page(town, latest_case(app).id)
    assert f"收入：工资性收入·劳务报酬（务工、零工）（{first.name}）" in html
    assert "200.00 元（不计入家庭收入）" in html and "300.00 元" in html
    standard = 920 if h.hukou_type == "1" else 740          # the demo's sample standards for 2026
    assert f"{standard * persons - 300:,.2f} 元" in html      # (standard − 300 ÷ n) × n, the allowance not counted
