"""Fields written by rules are never taken from user input (issue 16, items 2, 3 and 11): a closed
month cannot be reopened through the generic form, list editing or ajax update; a household's
status and bank account cannot be typed in; a case's state neither. On SQLite and PostgreSQL."""
import datetime as dt

import pytest

from casework.funds import payments
from casework.core import system

from .conftest import Browser, make_app
from .test_payments import approved, run, with_card
from .test_workflow import World

D = dt.date


@pytest.fixture
def web(engine, db_url):
    world = World(engine)
    application = make_app(db_url)
    yield world, application
    application.extensions["jiuzhu"].db.close()


def browser(application, username):
    b = Browser(application)
    assert b.login(username, "secret-pass").status_code == 302
    return b


def closed_month(world):
    with_card(world, 0)
    approved(world, 0)
    run(world, "2026-11")
    Payment = world.engine.models["payment"]
    Payment.update(status="paid", paid_on=D(2026, 11, 10)).execute()
    return payments.close(world.engine, world.users["town"], world.towns[0].id, "2026-11")


def test_the_field_rule_is_one_question_on_the_spec(engine):
    spec = engine.registry.entities
    assert not spec["payment_month"].field("status").user_writable
    assert not spec["household"].field("status").user_writable
    assert not spec["household"].field("bank_account").user_writable
    assert not spec["case"].field("state").user_writable
    assert spec["household"].field("phone").user_writable
    every_readonly = [f for e in spec.values() for f in e.fields if f.readonly or f.hidden]
    assert every_readonly and not any(f.user_writable for f in every_readonly)


def test_a_closed_month_cannot_be_reopened_from_any_form(web):
    world, application = web
    period = closed_month(world)
    Period = world.engine.models["payment_month"]
    town = browser(application, "town")
    forged = {"township": str(world.towns[0].id), "month": "2026-11", "status": "open", "closed_at": "",
              "closed_by": ""}
    assert town.post(f"/admin/payment_month/edit/?id={period.id}", forged).status_code == 403
    assert town.post("/admin/payment_month/new/", dict(forged, month="2026-12")).status_code == 403
    r = town.post("/admin/payment_month/ajax/update/", {"list_form_pk": str(period.id), "status": "open"})
    assert r.status_code in (403, 404)
    again = Period.get_by_id(period.id)
    assert (again.status, again.closed_by, again.closed_at) == ("closed", period.closed_by, period.closed_at)
    assert not Period.select().where(Period.month == "2026-12").exists()
    page = town.get("/admin/payment_month/").get_data(as_text=True)
    assert f"/admin/payment_month/edit/?id={period.id}" not in page
    # the month's own action still says no, in Chinese
    with pytest.raises(payments.PaymentRefused, match="已关账，不能再生成发放台账"):
        run(world, "2026-11")


def test_household_status_and_account_are_not_typed_in(web):
    world, application = web
    with_card(world, 0, account="6228480012345678901")
    H = world.engine.models["household"]
    h = H.get_by_id(world.households[0].id)
    village = browser(application, "village")
    form = {"code": h.code, "village": str(h.village), "head_name": h.head_name, "head_id_number": h.head_id_number,
            "hukou_type": h.hukou_type, "address": "新地址1号", "status": "in_care",
            "bank_name": "别的银行", "account_name": "别人", "bank_account": "6228480099999999999"}
    r = village.post(f"/admin/household/edit/?id={h.id}", form)
    assert r.status_code == 302
    after = H.get_by_id(h.id)
    assert after.address == "新地址1号"                         # what the form may write, it writes
    assert (after.status, after.bank_account, after.account_name) == ("none", "6228480012345678901", "户主0")
    r = village.post("/admin/household/ajax/update/", {"list_form_pk": str(h.id), "status": "in_care",
                                                       "bank_account": "6228480099999999999"})
    after = H.get_by_id(h.id)
    assert (after.status, after.bank_account) == ("none", "6228480012345678901")
    edit_page = village.get(f"/admin/household/edit/?id={h.id}").get_data(as_text=True)
    assert 'name="bank_account"' not in edit_page and 'name="status"' not in edit_page
    # the run pays the register's card
    approved(world, 0)
    run(world, "2026-11")
    assert {p.bank_account for p in world.engine.models["payment"].select()} == {"6228480012345678901"}


def test_a_case_state_is_not_typed_in(web):
    world, application = web
    case = world.case("12")
    C = world.engine.models["case"]
    town = browser(application, "town")
    town.post(f"/admin/case/edit/?id={case.id}", {"state": "approved", "decided_amount": "9999",
                                                 "decision_date": "2026-09-25", "channel": "window"})
    after = C.get_by_id(case.id)
    assert (after.state, after.decided_amount, after.decision_date) == ("accepted", None, None)


def test_a_list_edit_of_a_rule_field_is_refused_in_the_declaration(tmp_path):
    import shutil
    from casework.core import derive
    from casework.engine import SCHEMA_DIR
    from schema import SchemaError, load
    root = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, root)
    text = (root / "household.yaml").read_text(encoding="utf-8").replace("editable: [phone]", "editable: [phone, status]")
    (root / "household.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SchemaError, match="editable 中的 status 不能在列表中直接修改"):
        load(str(root), derive.names())
