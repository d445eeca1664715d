"""One person, one household: a head ID on one live household only, the head a member of it (or
made one), on the form, the member pages, the import, the migration and the data check."""
import datetime as dt

from casework.supervision import checks
from schema import idnumber
from casework.core import system
from casework.core.imports import Importer

from .conftest import Browser, engine_of
from .test_imports import template_headers, workbook, household as import_household, member as import_member


def pid(year, order):
    return idnumber.make("370405", dt.date(year, 5, 6), order)


def village_id(engine, code="370405001001"):
    A = engine.models["area"]
    return A.get(A.code == code).id


def form(engine, code, head_id, head_name="孙户主", **extra):
    data = {"code": code, "village": str(village_id(engine)), "head_name": head_name, "head_id_number": head_id,
            "hukou_type": "1", "status": "none"}
    data.update(extra)
    return data


def with_member(data, i, name, number, relation):
    data.update({f"members-{i}-name": name, f"members-{i}-id_number": number, f"members-{i}-relation": relation,
                 f"members-{i}-ethnicity": "01", f"members-{i}-monthly_income": "0"})
    return data


def a_household(engine):
    H = engine.models["household"]
    return H.select().where(H.village == village_id(engine), H.archived == False).order_by(H.id).first()  # noqa: E712


def test_a_head_typed_only_on_the_household_becomes_its_member(any_app):
    engine = engine_of(any_app)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(any_app)
    b.login("village1")
    number = pid(1961, 111)
    r = b.post("/admin/household/new/", data=form(engine, "HEAD-0001", number, address="东街1号"))
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    h = H.get(H.code == "HEAD-0001")
    head = M.get(M.household == h.id, M.id_number == number)
    assert (head.name, head.relation) == ("孙户主", "02")
    assert H.get_by_id(h.id).member_count == 1


def test_one_head_id_on_two_households_is_refused_and_the_input_kept(any_app):
    engine = engine_of(any_app)
    H = engine.models["household"]
    taken = a_household(engine)
    b = Browser(any_app)
    b.login("town1")
    before = H.select().count()
    r = b.post("/admin/household/new/", data=form(engine, "HEAD-0002", taken.head_id_number, address="西街2号"))
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "此身份证号已是另一户的户主" in page
    assert "HEAD-0002" in page and "西街2号" in page
    assert H.select().count() == before


def test_head_listed_among_members_must_be_registered_as_the_head(any_app):
    engine = engine_of(any_app)
    H = engine.models["household"]
    b = Browser(any_app)
    b.login("town1")
    number = pid(1962, 121)
    data = with_member(form(engine, "HEAD-0003", number), 0, "孙户主", number, "10")
    r = b.post("/admin/household/new/", data=data)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "户主本人应登记为“户主”" in page and "配偶" in page
    assert not H.select().where(H.code == "HEAD-0003").exists()
    data = with_member(form(engine, "HEAD-0003", number), 0, "孙户主", number, "02")
    assert b.post("/admin/household/new/", data=data).status_code == 302


def test_head_who_is_a_member_elsewhere_is_refused(any_app):
    engine = engine_of(any_app)
    H, M = engine.models["household"], engine.models["member"]
    other = a_household(engine)
    elsewhere = M.select().where(M.household == other.id, M.id_number != other.head_id_number).first() or \
        M.get(M.household == other.id)
    b = Browser(any_app)
    b.login("town1")
    r = b.post("/admin/household/new/", data=form(engine, "HEAD-0004", elsewhere.id_number, head_name=elsewhere.name))
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and ("另一户" in page)
    assert not H.select().where(H.code == "HEAD-0004").exists()


def test_the_head_member_cannot_be_removed_or_renumbered(any_app):
    engine = engine_of(any_app)
    M = engine.models["member"]
    h = a_household(engine)
    head = M.get(M.household == h.id, M.id_number == h.head_id_number, M.archived == False)  # noqa: E712
    b = Browser(any_app)
    b.login("town1")
    r = b.post("/admin/member/delete/", data={"id": str(head.id), "url": "/admin/member/"}, follow_redirects=True)
    assert "请先在家庭户中更换户主" in r.get_data(as_text=True)
    assert M.get_by_id(head.id).archived is False
    r = b.post(f"/admin/member/edit/?id={head.id}",
               data={"household": str(h.id), "name": head.name,
                     "id_number": idnumber.make("370405", head.birth_date, 997 if head.sex == "1" else 996),
                     "relation": head.relation, "ethnicity": "01", "monthly_income": "0"})
    assert r.status_code == 200 and "请先在家庭户中更换户主" in r.get_data(as_text=True)
    assert M.get_by_id(head.id).id_number == h.head_id_number


def test_import_refuses_a_file_that_repeats_a_head_id_naming_both_rows(any_app):
    engine = engine_of(any_app)
    H = engine.models["household"]
    b = Browser(any_app)
    b.login("town1")
    headers = template_headers(b)
    number = pid(1964, 141)
    data = workbook(headers, [import_household("HEAD-I1", number), import_household("HEAD-I2", pid(1965, 151)),
                              import_household("HEAD-I3", number)], [])
    User = engine.models["user"]
    outcome = Importer(engine, "household", User.get(User.username == "town1")).run(data, "heads.xlsx")
    messages = [(p.row, p.column, p.message) for p in outcome.problems]
    assert (4, "户主身份证号", "与第2行重复：此身份证号已是另一户的户主：同一人同一时间只能是一户的户主") in messages
    assert not H.select().where(H.code.in_(["HEAD-I1", "HEAD-I2", "HEAD-I3"])).exists()


def test_import_makes_each_head_a_member_unless_they_belong_elsewhere(any_app):
    engine = engine_of(any_app)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(any_app)
    b.login("town1")
    headers = template_headers(b)
    User = engine.models["user"]
    town1 = User.get(User.username == "town1")
    first, second = pid(1966, 161), pid(1967, 171)
    data = workbook(headers, [import_household("HEAD-J1", first), import_household("HEAD-J2", second)],
                    [import_member("HEAD-J2", second)])
    outcome = Importer(engine, "household", town1).run(data, "heads.xlsx")
    assert outcome.ok and outcome.committed, outcome.problems
    assert M.get(M.id_number == first).household == H.get(H.code == "HEAD-J1").id
    assert M.select().where(M.id_number == second).count() == 1
    member_elsewhere = M.get(M.id_number != H.get(H.code == "HEAD-J1").head_id_number,
                             M.household != H.get(H.code == "HEAD-J1").id, M.archived == False)  # noqa: E712
    data = workbook(headers, [import_household("HEAD-J3", member_elsewhere.id_number)], [])
    outcome = Importer(engine, "household", town1).run(data, "heads2.xlsx")
    assert not outcome.committed and any("另一户" in p.message and p.row == 2 for p in outcome.problems)
    assert not H.select().where(H.code == "HEAD-J3").exists()


def test_existing_duplicate_heads_do_not_stop_migration_and_are_reported(tmp_path):
    from casework.engine import Engine
    url = f"sqlite:///{tmp_path}/old.db"
    engine = Engine(url)
    engine.migrate()
    H, M, A = engine.models["household"], engine.models["member"], engine.models["area"]
    token = system.actor.set((None, "测试", None))
    county = A.create(code="370405", name="县", level="county")
    town = A.create(code="370405001", name="镇", level="township", parent=county.id)
    village = A.create(code="370405001001", name="村", level="village", parent=town.id)
    number = pid(1970, 201)
    h1 = H.create(code="OLD-1", village=village.id, head_name="老户主", head_id_number=number, hukou_type="1")
    M.create(household=h1.id, name="老户主", id_number=number, relation="02")
    # an office database from before the rule: the same head on a second household, not its member
    engine.db.execute_sql('DROP INDEX "household_head_id_number_uniq"')
    engine.db.execute_sql('INSERT INTO "household" (code, village_id, head_name, head_id_number, hukou_type, status, '
                          'archived, member_count) VALUES (?, ?, ?, ?, ?, ?, 0, 0)',
                          ("OLD-2", village.id, "老户主", number, "1", "none"))
    system.actor.reset(token)
    engine.db.close()
    again = Engine(url)
    plan = again.plan()
    assert any("唯一约束 household_head_id_number_uniq 暂未建立" in w for w in plan.warnings)
    again.migrate()                                   # does not fail
    made = checks.run(again, ["head"])
    assert made["head"] == 3                          # two households share a head; OLD-2's head is not its member
    Result = again.models["check_result"]
    details = sorted(r.detail for r in Result.select().where(Result.kind == "head"))
    assert any("同时是 OLD-1 和 OLD-2 的户主" in d for d in details)
    assert any("OLD-2 的户主 老户主 不在本户成员中" in d for d in details)
    assert checks.run(again, ["head"])["head"] == 0   # nothing new the second time
    again.db.close()
