"""Forms as a user meets them: inline members, Chinese errors with nothing written, CSRF, login
throttling, audit contents and history, archive and restore."""
import datetime as dt
import json

from schema import idnumber

from .conftest import Browser, engine_of


def new_id(day, order=101):
    return idnumber.make("370405", dt.date(1975, 1, day), order)


def village(engine, code="370405001001"):
    A = engine.models["area"]
    return A.get(A.code == code)


def household_form(engine, code, **extra):
    data = {"code": code, "village": str(village(engine).id), "head_name": "赵大", "head_id_number": new_id(1),
            "hukou_type": "1", "status": "none"}
    data.update(extra)
    return data


def add_members(data, *people):
    for i, (name, number, relation) in enumerate(people):
        data[f"members-{i}-name"] = name
        data[f"members-{i}-id_number"] = number
        data[f"members-{i}-relation"] = relation
        data[f"members-{i}-ethnicity"] = "01"
        data[f"members-{i}-monthly_income"] = "300"
    return data


def test_household_with_two_inline_members_is_created_and_audited(app):
    engine = engine_of(app)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(app)
    b.login("village1")
    data = add_members(household_form(engine, "T-0001"), ("赵大", new_id(1), "02"), ("钱二", new_id(2, 102), "10"))
    r = b.post("/admin/household/new/", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    h = H.get(H.code == "T-0001")
    members = list(M.select().where(M.household == h).order_by(M.id))
    assert [m.name for m in members] == ["赵大", "钱二"]
    assert members[0].sex == "1" and members[1].sex == "2" and members[0].birth_date == dt.date(1975, 1, 1)
    assert h.member_count == 2 and str(h.income_per_capita) == "300.00"
    A = engine.system.AuditLog
    log = A.get((A.entity == "household") & (A.record_id == h.id))
    assert log.username == "village1" and log.action == "create"
    assert json.loads(log.changes)["code"] == [None, "T-0001"]
    assert A.select().where((A.entity == "member") & (A.action == "create") &
                            (A.record_id.in_([m.id for m in members]))).count() == 2
    page = b.get(f"/admin/household/details/?id={h.id}").get_data(as_text=True)
    assert "修改记录" in page and "家庭人口" in page


def test_bad_member_rolls_back_the_whole_household(app):
    engine = engine_of(app)
    H, M = engine.models["household"], engine.models["member"]
    before = (H.select().count(), M.select().count())
    b = Browser(app)
    b.login("town1")
    data = add_members(household_form(engine, "T-0002"), ("赵大", new_id(3), "02"), ("钱二", new_id(4, 102), "10"))
    data["members-1-sex"] = "1"          # the number says female
    r = b.post("/admin/household/new/", data=data)
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "性别与身份证号码不符" in text
    assert (H.select().count(), M.select().count()) == before


def test_invalid_inputs_give_chinese_messages_and_write_nothing(app):
    engine = engine_of(app)
    H = engine.models["household"]
    before = H.select().count()
    b = Browser(app)
    b.login("town1")
    cases = [
        ({"head_id_number": "370481195803121234"}, "校验位"),
        ({"head_name": ""}, "必填"),
        ({"phone": "12345"}, "电话号码"),
        ({"hukou_type": "9"}, "不是有效的选择"),
    ]
    for extra, words in cases:
        r = b.post("/admin/household/new/", data=household_form(engine, "T-BAD", **extra))
        assert r.status_code == 200, extra
        assert words in r.get_data(as_text=True), extra
    assert H.select().count() == before


def test_same_person_in_a_second_household_is_refused(app):
    engine = engine_of(app)
    M = engine.models["member"]
    existing = M.select().order_by(M.id).first()
    b = Browser(app)
    b.login("admin")
    data = add_members(household_form(engine, "T-0003"), ("重复", existing.id_number, "02"))
    r = b.post("/admin/household/new/", data=data)
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "身份证号" in text and "一户" in text
    assert M.select().where(M.id_number == existing.id_number).count() == 1


def test_update_audit_has_old_and_new_values_and_history_page(app):
    engine = engine_of(app)
    H = engine.models["household"]
    h = H.select().where(H.village == village(engine)).order_by(H.id).first()
    b = Browser(app)
    b.login("village1")
    form = {"code": h.code, "village": str(h.village), "head_name": h.head_name,
            "head_id_number": h.head_id_number, "hukou_type": h.hukou_type, "status": h.status,
            "address": "新地址1号", "phone": h.phone or "", "bank_name": h.bank_name or "",
            "account_name": h.account_name or "", "bank_account": h.bank_account or ""}
    r = b.post(f"/admin/household/edit/?id={h.id}", data=form)
    assert r.status_code == 302
    A = engine.system.AuditLog
    log = A.select().where((A.entity == "household") & (A.record_id == h.id) & (A.action == "update")).get()
    assert json.loads(log.changes) == {"address": [h.address, "新地址1号"]}
    page = b.get(f"/admin/household/history/?id={h.id}").get_data(as_text=True)
    assert "新地址1号" in page and "现住址" in page and "village1" in page


def test_list_editing_is_audited(app):
    engine = engine_of(app)
    H = engine.models["household"]
    h = H.select().where(H.village == village(engine)).order_by(H.id).first()
    b = Browser(app)
    b.login("town1")
    r = b.post("/admin/household/ajax/update/", data={"list_form_pk": str(h.id), "phone": "13912345678"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert H.get_by_id(h.id).phone == "13912345678"
    A = engine.system.AuditLog
    assert A.select().where((A.record_id == h.id) & (A.entity == "household") &
                            A.changes.contains("13912345678")).exists()


def test_delete_archives_and_county_admin_restores(app):
    engine = engine_of(app)
    H = engine.models["household"]
    h = H.select().where(H.village == village(engine)).order_by(H.id).first()
    b = Browser(app)
    b.login("town1")
    r = b.post("/admin/household/delete/", data={"id": str(h.id), "url": "/admin/household/"})
    assert r.status_code == 302
    assert H.get_by_id(h.id).archived is True
    assert b.get(f"/admin/household/details/?id={h.id}").status_code == 404
    assert b.get("/admin/household_archive/").status_code == 403
    admin = Browser(app)
    admin.login("admin")
    assert f"id={h.id}" in admin.get("/admin/household_archive/").get_data(as_text=True)
    r = admin.post("/admin/household_archive/action/", data={"action": "restore", "rowid": str(h.id),
                                                            "url": "/admin/household_archive/"})
    assert r.status_code == 302
    assert H.get_by_id(h.id).archived is False
    A = engine.system.AuditLog
    assert [a.action for a in A.select().where((A.entity == "household") & (A.record_id == h.id))
            .order_by(A.id)][-2:] == ["archive", "restore"]


def test_post_without_csrf_token_is_rejected(app):
    engine = engine_of(app)
    H = engine.models["household"]
    b = Browser(app)
    b.login("admin")
    before = H.select().count()
    r = b.post("/admin/household/new/", data=household_form(engine, "T-CSRF"), csrf=False)
    assert r.status_code == 400
    r = b.post("/admin/household/new/", data={**household_form(engine, "T-CSRF"), "csrf_token": "forged"})
    assert r.status_code == 400
    assert H.select().count() == before
    anon = Browser(app)
    r = anon.client.post("/login", data={"username": "admin", "password": "jiuzhu-demo"})
    assert r.status_code == 400


def test_login_slows_down_an_address_after_many_failures(app):
    allowed = engine_of(app).settings.get("login_max_failures_per_ip")
    b = Browser(app)
    for i in range(allowed):
        assert b.login(f"guess{i}", "wrong-password").status_code == 401     # names tried one by one
    r = b.login("town2")                 # even the right password must wait now
    assert r.status_code == 429 and "秒后再试" in r.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(app):
    b = Browser(app)
    r = b.login("admin")
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_users_are_managed_by_the_county_administrator_only(app):
    engine = engine_of(app)
    U, A = engine.models["user"], engine.models["area"]
    b = Browser(app)
    b.login("admin")
    town = A.get(A.code == "370405101")
    r = b.post("/admin/user/new/", data={"username": "town3", "full_name": "新乡镇账号", "password": "secret-pass-1",
                                        "role": "township_staff", "area": str(town.id), "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    user = U.get(U.username == "town3")
    assert user.password.startswith(("scrypt:", "pbkdf2:")) and "secret-pass-1" not in user.password
    assert Browser(app).login("town3", "secret-pass-1").status_code == 302
    r = b.post("/admin/user/new/", data={"username": "bad", "full_name": "错层级", "password": "secret-pass-1",
                                        "role": "village_assistant", "area": str(town.id), "active": "y"})
    assert r.status_code == 200 and "村" in r.get_data(as_text=True)
    assert not U.select().where(U.username == "bad").exists()
    t = Browser(app)
    t.login("town1")
    assert t.get("/admin/user/").status_code == 403
