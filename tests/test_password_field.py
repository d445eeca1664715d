"""A `password` field declared on any entity (here 查询密码 on 银行卡): hashed on save from the form and
from an import, a blank edit keeps the stored hash, never shown in the detail page or the export, and
never carried into an error workbook. On SQLite and PostgreSQL."""
import io
import re

import pytest
from python_calamine import CalamineWorkbook
from werkzeug.security import check_password_hash

from .conftest import Browser, engine_of, make_app
from .test_import_refs import commit, one_sheet, seed_county, upload
from .test_migrate import add_field
from .test_schema_compiler import copy_schema

HEADER = ["家庭", "开户名", "开户行", "卡号", "查询密码"]
VERSION = re.compile(r'name="row_version"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="row_version"')


@pytest.fixture
def county_with_pin(db_url, tmp_path):
    root = copy_schema(tmp_path)
    add_field(root, "bank_card", "  - {name: pin, type: password, label: 查询密码}")
    add_field(root, "household", "  - {name: pin, type: password, label: 查询密码}")
    app = make_app(db_url, SCHEMA_DIR=str(root))
    seed_county(app)
    yield app
    engine_of(app).db.close()


def imported_card(app):
    b = Browser(app)
    b.login("town1")
    job, state = upload(b, one_sheet("银行卡", HEADER, [["R-001", "王大山", "台儿庄农商银行", "6228480402564890018",
                                                       "Qiao-2024x"]]), "bank_card")
    assert state["ok"], state["problems"]
    assert commit(b, job)["created"] == 1
    C = engine_of(app).models["bank_card"]
    return b, C.get(C.account == "6228480402564890018")


def test_an_imported_password_is_stored_hashed_and_never_shown_or_exported(county_with_pin):
    b, card = imported_card(county_with_pin)
    assert card.pin != "Qiao-2024x" and check_password_hash(card.pin, "Qiao-2024x")
    detail = b.get(f"/admin/bank_card/details/?id={card.id}").get_data(as_text=True)
    assert "Qiao-2024x" not in detail and card.pin not in detail
    export = b.get("/admin/bank_card/export/xlsx/").data
    rows = CalamineWorkbook.from_filelike(io.BytesIO(export)).get_sheet_by_index(0).to_python()
    assert "查询密码" not in rows[0] and not any(card.pin == c or "Qiao" in str(c) for row in rows for c in row)


def form(card, **extra):
    data = {"household": str(card.__data__["household"]), "account_name": card.account_name,
            "bank_name": card.bank_name, "account": card.account, "status": card.status, "opened_on": "",
            "closed_on": "", "close_reason": ""}
    data.update(extra)
    return data


def test_a_blank_edit_keeps_the_hash_and_a_typed_one_replaces_it(county_with_pin):
    app = county_with_pin
    b, card = imported_card(app)
    C = engine_of(app).models["bank_card"]
    page = b.get(f"/admin/bank_card/edit/?id={card.id}").get_data(as_text=True)
    assert card.pin not in page and "留空则不修改密码" in page
    m = VERSION.search(page)
    version = (m.group(1) or m.group(2)) if m else ""
    r = b.post(f"/admin/bank_card/edit/?id={card.id}", data=form(card, bank_name="中国农业银行", pin="",
                                                                 row_version=version))
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    after = C.get_by_id(card.id)
    assert after.bank_name == "中国农业银行" and after.pin == card.pin       # the edit did not wipe it
    page = b.get(f"/admin/bank_card/edit/?id={card.id}").get_data(as_text=True)
    m = VERSION.search(page)
    version = (m.group(1) or m.group(2)) if m else ""
    r = b.post(f"/admin/bank_card/edit/?id={card.id}", data=form(after, pin="Xin-mima-9", row_version=version))
    assert r.status_code == 302
    after = C.get_by_id(card.id)
    assert check_password_hash(after.pin, "Xin-mima-9") and not check_password_hash(after.pin, "Qiao-2024x")


def test_an_import_hashes_and_an_update_import_with_a_blank_cell_keeps_it(county_with_pin):
    app = county_with_pin
    H = engine_of(app).models["household"]
    b = Browser(app)
    b.login("village1")
    job, state = upload(b, one_sheet("家庭户", ["户编号", "联系电话", "查询密码"], [["R-001", "13800000001", "Hu-mima-1"]]),
                        "household", mode="update")
    assert state["ok"], state["problems"]
    commit(b, job)
    first = H.get(H.code == "R-001")
    assert first.phone == "13800000001" and check_password_hash(first.pin, "Hu-mima-1")
    job, state = upload(b, one_sheet("家庭户", ["户编号", "联系电话", "查询密码"], [["R-001", "13800000002", ""]]),
                        "household", mode="update")
    assert state["ok"], state["problems"]
    commit(b, job)
    after = H.get(H.code == "R-001")
    assert after.phone == "13800000002" and after.pin == first.pin


def test_the_error_workbook_never_carries_the_password(county_with_pin):
    b = Browser(county_with_pin)
    b.login("town1")
    job, state = upload(b, one_sheet("银行卡", HEADER, [
        ["R-001", "王大山", "台儿庄农商银行", "6228480402564890018", "Qiao-2024x"],
        ["R-999", "无此户", "台儿庄农商银行", "6228480402564890026", "Mima-2024y"]]), "bank_card")
    assert not state["ok"]
    data = b.get(f"/admin/imports/job/{job}/errors.xlsx").data
    rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    assert rows[0][:5] == HEADER and rows[0][-1] == "错误原因"
    assert [r[1] for r in rows[1:3]] == ["王大山", "无此户"]
    assert not any("Qiao" in str(c) or "Mima" in str(c) for row in rows for c in row)
