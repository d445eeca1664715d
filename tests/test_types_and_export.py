"""Every field type round-trips form → database → xlsx on both databases; the list export is typed,
neutralises formulas, respects filters and scope, masks where the role calls for it, and loads
related labels in batches."""
import datetime as dt
import io
import logging
import shutil
import zipfile
from decimal import Decimal
from urllib.parse import unquote

import pytest
from python_calamine import CalamineWorkbook

from seeds import bootstrap

from .conftest import Browser, engine_of, make_app, make_url, BACKENDS
from .test_schema_compiler import copy_schema, edit

SAMPLE = """name: sample
label: 字段样例
scope: area
title: "{text}"
fields:
  - {name: text, type: text, label: 文本, required: true, max_length: 20}
  - {name: textarea, type: textarea, label: 长文本}
  - {name: int, type: int, label: 整数}
  - {name: money, type: money, label: 金额}
  - {name: date, type: date, label: 日期}
  - {name: datetime, type: datetime, label: 时间}
  - {name: month, type: month, label: 年月}
  - {name: bool, type: bool, label: 是否}
  - {name: choice, type: choice, label: 选项, options: sex}
  - {name: area, type: area, label: 区划, required: true}
  - {name: ref, type: ref, to: household, label: 家庭}
  - {name: id_card, type: id_card, label: 身份证, sensitive: true}
  - {name: phone, type: phone, label: 电话}
  - {name: bank_account, type: bank_account, label: 账号, sensitive: true}
  - {name: json, type: json, label: 附加}
"""


def xlsx(data):
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


@pytest.fixture(params=BACKENDS)
def sample_app(request, tmp_path):
    root = copy_schema(tmp_path)
    (root / "sample.yaml").write_text(SAMPLE, encoding="utf-8")
    url, pg = make_url(request.param, tmp_path)
    app = make_app(url, SCHEMA_DIR=str(root))
    bootstrap.minimal(engine_of(app), "370405", "台儿庄区", "Office-pass-1")
    yield app
    engine_of(app).db.close()
    if pg:
        pg.drop()


def test_every_field_type_round_trips(sample_app):
    engine = engine_of(sample_app)
    A, H, S = engine.models["area"], engine.models["household"], engine.models["sample"]
    county = A.get(A.code == "370405")
    town = A.create(code="370405001", name="运河街道", level="township", parent=county)
    village = A.create(code="370405001001", name="中心社区", level="village", parent=town)
    h = H.create(code="H-1", village=village, head_name="张三", head_id_number="370481195803121233", hukou_type="1")
    b = Browser(sample_app)
    assert b.login("admin", "Office-pass-1").status_code == 302
    assert "字段样例" in b.get("/admin/sample/new/").get_data(as_text=True)
    form = {"text": " =1+1 ", "textarea": "第一行\n第二行", "int": "42", "money": "1234.5", "date": "2024-02-29",
            "datetime": "2024-03-01T08:30", "month": "2024-05", "bool": "y", "choice": "2", "area": str(village.id),
            "ref": str(h.id), "id_card": "11010519491231002x", "phone": "139 1234 5678",
            "bank_account": "6228 4800 1234 5678 9", "json": '{"a": 1}'}
    r = b.post("/admin/sample/new/", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    s = S.get()
    assert s.text == "=1+1" and s.textarea == "第一行\n第二行" and s.int == 42
    assert s.money == Decimal("1234.50") and s.date == dt.date(2024, 2, 29)
    assert s.datetime == dt.datetime(2024, 3, 1, 8, 30) and s.month == "2024-05" and s.bool is True
    assert s.choice == "2" and s.area == village.id and s.ref == h.id
    assert s.id_card == "11010519491231002X" and s.phone == "13912345678"
    assert s.bank_account == "62284800123456789" and s.json == '{"a": 1}'

    listing = b.get("/admin/sample/").get_data(as_text=True)
    assert "1,234.50 元" in listing and "女" in listing and "中心社区" in listing and "是" in listing
    assert "110105********002X" in listing and "11010519491231002X" not in listing    # lists mask

    r = b.get("/admin/sample/export/xlsx/")
    rows = xlsx(r.data)
    header, row = rows[0], rows[1]
    cell = dict(zip(header, row))
    assert cell["文本"] == "=1+1" and cell["整数"] == 42 and cell["金额"] == 1234.5
    assert cell["日期"] == dt.date(2024, 2, 29) or cell["日期"] == dt.datetime(2024, 2, 29)
    assert cell["是否"] == "是" and cell["选项"] == "女" and cell["区划"] == "中心社区" and cell["家庭"] == "H-1 张三"
    assert cell["身份证"] == "11010519491231002X" and cell["账号"] == "62284800123456789"
    assert cell["年月"] == "2024-05"
    sheet = zipfile.ZipFile(io.BytesIO(r.data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet                          # no formula anywhere

    bad = dict(form, int="四十二", money="-5", date="2024-02-30", month="2024-13", phone="123",
               bank_account="abc", json="{", choice="7", id_card="11010519491231002Y")
    r = b.post("/admin/sample/new/", data=bad)
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and S.select().count() == 1
    for words in ["不是整数", "金额不能为负数", "不是有效的日期", "不是年月", "电话号码", "银行账号", "JSON",
                  "不是有效的选择", "身份证号码"]:
        assert words in text, words


def test_export_cells_formulas_filename_and_filters(app):
    engine = engine_of(app)
    H = engine.models["household"]
    first = H.select().order_by(H.id).first()
    H.update(address="=HYPERLINK(\"http://x\")", head_name="+危险").where(H.id == first.id).execute()
    b = Browser(app)
    b.login("admin")
    r = b.get(f"/admin/household/export/xlsx/?search={first.code}")
    assert r.status_code == 200
    disposition = unquote(r.headers["Content-Disposition"])
    assert "家庭户_" in disposition and disposition.endswith(".xlsx")
    rows = xlsx(r.data)
    cell = dict(zip(rows[0], rows[1]))
    assert cell["现住址"] == '=HYPERLINK("http://x")' and cell["户主姓名"] == "+危险"
    assert isinstance(cell["户主身份证号"], str) and len(cell["户主身份证号"]) == 18
    assert isinstance(cell["家庭人口"], (int, float)) and isinstance(cell["人均月收入"], float)
    assert isinstance(cell["创建时间"], dt.datetime)
    book = zipfile.ZipFile(io.BytesIO(r.data))
    assert "<f>" not in book.read("xl/worksheets/sheet1.xml").decode()
    assert 'quotePrefix="1"' in book.read("xl/styles.xml").decode()

    # a filter: the export has exactly the rows the list shows
    arg = _filter_arg(app, "hukou_type")
    rows = xlsx(b.get(f"/admin/household/export/xlsx/?{arg}=2").data)
    assert len(rows) - 1 == H.select().where((H.hukou_type == "2") & (H.archived == False)).count()  # noqa: E712
    assert {dict(zip(rows[0], r))["户口性质"] for r in rows[1:]} == {"农村"}


def _filter_arg(app, path):
    view = [v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", "") == "household"][0]
    for i, flt in enumerate(view._filters):
        if getattr(flt, "path", None) == path and flt.operation() == "等于":
            return f"flt0_{view.get_filter_arg(i, flt)}"
    raise AssertionError("no filter")


def test_export_scope_and_batched_queries(app):
    engine = engine_of(app)
    M = engine.models["member"]
    b = Browser(app)
    b.login("town2")
    queries = []
    handler = logging.Handler()
    handler.emit = lambda record: queries.append(record.getMessage())
    logger = logging.getLogger("peewee")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        r = b.get("/admin/member/export/xlsx/")
    finally:
        logger.removeHandler(handler)
    rows = xlsx(r.data)
    town2_members = M.select().join(engine.models["household"]).join(engine.models["area"]).where(
        engine.models["area"].path.startswith("/370405/370405101/") & (M.archived == False)).count()  # noqa: E712
    assert len(rows) - 1 == town2_members > 100
    selects = [q for q in queries if q.startswith("('SELECT")]
    assert len(selects) < 20, len(selects)          # not one per row


def test_masking_follows_the_role(tmp_path, demo_file):
    root = copy_schema(tmp_path)
    edit(root / "roles.yaml", "default: [view, export, audit, unmask]", "default: [view, export, audit]")
    db = tmp_path / "app.db"
    shutil.copy(demo_file, db)
    app = make_app(f"sqlite:///{db}", SCHEMA_DIR=str(root))
    engine = engine_of(app)
    H = engine.models["household"]
    h = H.select().order_by(H.id).first()
    b = Browser(app)
    b.login("county")
    cell = dict(zip(*xlsx(b.get(f"/admin/household/export/xlsx/?search={h.code}").data)[:2]))
    assert cell["户主身份证号"] == h.head_id_number[:6] + "********" + h.head_id_number[-4:]
    assert cell["银行账号"].endswith(h.bank_account[-4:]) and cell["银行账号"].startswith("*")
    details = b.get(f"/admin/household/details/?id={h.id}").get_data(as_text=True)
    assert h.head_id_number not in details and h.bank_account not in details
    a = Browser(app)
    a.login("admin")
    assert h.head_id_number in a.get(f"/admin/household/details/?id={h.id}").get_data(as_text=True)
