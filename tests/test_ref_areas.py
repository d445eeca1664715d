"""A reference stays inside the user's scope and the record's own township (setting ref_area_level):
on the form, on an inline member row, with a forged picker value, and in an import, each refused with
a Chinese message and nothing written. On SQLite and PostgreSQL."""
import re

import pytest

from .conftest import Browser, engine_of, make_app
from .test_import_refs import one_sheet, pid, seed_county, upload
from .test_migrate import add_field
from .test_schema_compiler import copy_schema

VERSION = re.compile(r'name="row_version"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="row_version"')


@pytest.fixture
def county(db_url, tmp_path):
    root = copy_schema(tmp_path)
    add_field(root, "member", "  - {name: guardian, type: ref, to: member, label: 监护人}")
    app = make_app(db_url, SCHEMA_DIR=str(root))
    seed_county(app)
    yield app
    engine_of(app).db.close()


def member_of(app, code):
    engine = engine_of(app)
    H, M = engine.models["household"], engine.models["member"]
    return M.get(M.household == H.get(H.code == code).id)


def new_household(app, guardian_id):
    engine = engine_of(app)
    village = engine.models["area"].get(engine.models["area"].code == "370405001001")
    head = pid(1980, 31)
    data = {"code": "T-9", "village": str(village.id), "head_name": "孙大", "head_id_number": head,
            "hukou_type": "1", "status": "none"}
    for i, (name, number, relation, guardian) in enumerate([("孙大", head, "02", ""),
                                                           ("孙小", pid(2016, 33), "20", str(guardian_id))]):
        data.update({f"members-{i}-name": name, f"members-{i}-id_number": number, f"members-{i}-relation": relation,
                     f"members-{i}-ethnicity": "01", f"members-{i}-monthly_income": "0",
                     f"members-{i}-guardian": guardian})
    return data


def test_an_inline_member_row_cannot_name_a_guardian_of_another_township(county):
    engine = engine_of(county)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(county)
    b.login("admin")                    # the county sees both townships: the rule is the township, not the scope
    elsewhere = member_of(county, "R-004")          # 涧头集镇
    r = b.post("/admin/household/new/", data=new_household(county, elsewhere.id))
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "监护人只能选本乡镇（街道）的家庭成员" in page and "涧头集镇" in page and "运河街道" in page
    assert "孙小" in page                                    # what was typed is still in the form
    assert not H.select().where(H.code == "T-9").exists() and not M.select().where(M.name == "孙小").exists()
    same_town = member_of(county, "R-003")          # 古城社区, also 运河街道
    r = b.post("/admin/household/new/", data=new_household(county, same_town.id))
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    assert M.get(M.name == "孙小").guardian == same_town.id


def edit(b, member, **extra):
    page = b.get(f"/admin/member/edit/?id={member.id}").get_data(as_text=True)
    m = VERSION.search(page)
    data = {"household": str(member.__data__["household"]), "name": member.name, "id_number": member.id_number,
            "relation": member.relation, "monthly_income": "0",
            "row_version": (m.group(1) or m.group(2)) if m else ""}
    data.update(extra)
    return b.post(f"/admin/member/edit/?id={member.id}", data=data)


def test_a_forged_picker_value_outside_the_scope_is_refused(county):
    engine = engine_of(county)
    M = engine.models["member"]
    b = Browser(county)
    b.login("village1")                 # 中心社区 only
    mine = member_of(county, "R-001")
    outside = member_of(county, "R-003")            # 古城社区: the picker never offers it
    r = edit(b, mine, guardian=str(outside.id))
    assert r.status_code == 200 and "所选的监护人不在您的管辖范围内" in r.get_data(as_text=True)
    assert M.get_by_id(mine.id).guardian is None
    neighbour = member_of(county, "R-002")
    r = edit(b, mine, guardian=str(neighbour.id))
    assert r.status_code == 302 and M.get_by_id(mine.id).guardian == neighbour.id


def test_an_import_refuses_a_guardian_of_another_township(county):
    engine = engine_of(county)
    b = Browser(county)
    b.login("admin")
    far = engine.models["household"].get(engine.models["household"].code == "R-004").head_id_number
    near = engine.models["household"].get(engine.models["household"].code == "R-003").head_id_number
    header = ["所属家庭", "姓名", "身份证号", "与户主关系", "监护人"]
    job, state = upload(b, one_sheet("家庭成员", header, [["R-001", "王孙", pid(2015, 81), "孙子", far]]), "member")
    assert not state["ok"]
    (problem,) = state["problems"]
    assert problem["row"] == 2 and problem["column"] == "监护人"
    assert "只能选本乡镇（街道）的家庭成员" in problem["message"] and "涧头集镇" in problem["message"]
    job, state = upload(b, one_sheet("家庭成员", header, [["R-001", "王孙", pid(2015, 81), "孙子", near]]), "member")
    assert state["ok"], state["problems"]


def test_the_setting_can_widen_the_rule_to_the_county(county):
    engine = engine_of(county)
    engine.settings.set("ref_area_level", "county")
    from casework.core import ref_areas
    assert ref_areas.level(engine.models) == "county"
    b = Browser(county)
    b.login("admin")
    elsewhere = member_of(county, "R-004")
    r = b.post("/admin/household/new/", data=new_household(county, elsewhere.id))
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]


def test_the_save_rule_itself_refuses_outside_the_scope(county):
    """Whatever path the value comes by (an update import, a script acting as a user), the save refuses."""
    from casework.core import system
    from schema import RecordInvalid
    engine = engine_of(county)
    U = engine.models["user"]
    mine, outside = member_of(county, "R-001"), member_of(county, "R-003")
    token = system.actor.set((U.get(U.username == "village1").id, "village1", None))
    try:
        mine.guardian = outside.id
        with pytest.raises(RecordInvalid) as refused:
            mine.save()
    finally:
        system.actor.reset(token)
    assert refused.value.errors == {"guardian": "所选的家庭成员不在您的管辖范围内，请重新选择"}


def test_a_guardian_the_county_set_outside_the_villages_scope_survives_the_villages_edit(county):
    engine = engine_of(county)
    M = engine.models["member"]
    mine, other_village = member_of(county, "R-001"), member_of(county, "R-003")   # both 运河街道
    admin = Browser(county)
    admin.login("admin")
    assert edit(admin, mine, guardian=str(other_village.id)).status_code == 302
    village = Browser(county)
    village.login("village1")
    r = edit(village, M.get_by_id(mine.id), guardian=str(other_village.id), monthly_income="120")
    assert r.status_code == 302, r.get_data(as_text=True)[-800:]
    after = M.get_by_id(mine.id)
    assert after.guardian == other_village.id and str(after.monthly_income) == "120.00"
