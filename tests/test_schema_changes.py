"""Schema changes a county makes by editing YAML never crash a page: `ref` and `area` fields added to
an inline child (member) work in the household form, its lookups keep the row scope, and the
import resolves them. On SQLite and PostgreSQL."""
import pytest

from .conftest import Browser, engine_of, make_app
from .test_import_refs import one_sheet, pid, seed_county, upload
from .test_migrate import add_field
from .test_schema_compiler import copy_schema


@pytest.fixture
def county_with_guardian(db_url, tmp_path):
    root = copy_schema(tmp_path)
    add_field(root, "member", "  - {name: guardian, type: ref, to: member, label: 监护人}")
    add_field(root, "member", "  - {name: born_in, type: area, label: 出生地, level: village}")
    app = make_app(db_url, SCHEMA_DIR=str(root))
    seed_county(app)
    yield app
    engine_of(app).db.close()


def test_ref_and_area_on_an_inline_child_work_in_the_parent_form(county_with_guardian):
    app = county_with_guardian
    engine = engine_of(app)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(app)
    b.login("village1")
    h = H.get(H.code == "R-001")
    page = b.get(f"/admin/household/edit/?id={h.id}")
    assert page.status_code == 200 and "监护人" in page.get_data(as_text=True)
    assert b.get(f"/admin/member/edit/?id={M.get(M.household == h.id).id}").status_code == 200
    found = b.get("/admin/household/ajax/lookup/?name=member__guardian&query=").get_json()
    names = {text for _, text in found}
    assert {"王大山", "李小河"} <= names and "张古城" not in names and "刘涧头" not in names
    places = {text for _, text in b.get("/admin/household/ajax/lookup/?name=member__born_in&query=").get_json()}
    assert places == {"中心社区"}


def test_an_import_resolves_the_new_reference_within_scope(county_with_guardian):
    app = county_with_guardian
    engine = engine_of(app)
    H, M = engine.models["household"], engine.models["member"]
    b = Browser(app)
    b.login("village1")
    head = H.get(H.code == "R-001").head_id_number
    outside = H.get(H.code == "R-003").head_id_number
    data = one_sheet("家庭成员", ["所属家庭", "姓名", "身份证号", "与户主关系", "监护人", "出生地"], [
        ["R-001", "王孙", pid(2015, 81), "孙子", head, "中心社区"],
        ["R-001", "王孙女", pid(2016, 92), "孙女", outside, "古城社区"]])
    job, state = upload(b, data, "member")
    assert not state["ok"]
    messages = {(p["row"], p["column"]): p["message"] for p in state["problems"]}
    assert set(messages) == {(3, "监护人"), (3, "出生地")}
    assert "找不到家庭成员" in messages[(3, "监护人")] and "管辖范围" in messages[(3, "出生地")]
    data = one_sheet("家庭成员", ["所属家庭", "姓名", "身份证号", "与户主关系", "监护人"],
                     [["R-001", "王孙", pid(2015, 81), "孙子", head]])
    job, state = upload(b, data, "member")
    assert state["ok"], state["problems"]
    b.post(f"/admin/imports/job/{job}/commit")
    assert M.get(M.id_number == pid(2015, 81)).guardian == M.get(M.id_number == head).id


def test_renamed_from_carries_the_column_over(db_url, tmp_path):
    from casework.engine import Engine
    from .test_migrate import seed
    from .test_schema_compiler import edit
    first = Engine(db_url)
    first.migrate()
    seed(first)
    H = first.models["household"]
    H.update(address="运河街道1号").execute()
    first.db.close()
    root = copy_schema(tmp_path)
    edit(root / "household.yaml", "{name: address, type: text, label: 现住址,",
         "{name: home_address, renamed_from: address, type: text, label: 现住址,")
    second = Engine(db_url, schema_dir=str(root))
    text = second.plan().describe()
    assert "列 address 改名为 home_address" in text and "增加列 home_address" not in text
    second.migrate()
    H = second.models["household"]
    assert [h.home_address for h in H.select()] == ["运河街道1号"] * 3
    assert second.plan().empty
    second.db.close()


def test_an_option_still_in_use_cannot_be_removed(db_url, tmp_path):
    from casework.engine import Engine
    from schema import MigrationRefused
    from .test_migrate import seed
    first = Engine(db_url)
    first.migrate()
    seed(first)                                         # three households, 户口性质 城镇 (code 1)
    first.db.close()
    root = copy_schema(tmp_path)
    path = root / "options" / "hukou_type.yaml"
    path.write_text("\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                              if 'code: "1"' not in line) + "\n", encoding="utf-8")
    types = root / "options" / "assistance_type.yaml"       # the type that points at it goes with it
    types.write_text(types.read_text(encoding="utf-8").replace(' hukou: "1",', ""), encoding="utf-8")
    second = Engine(db_url, schema_dir=str(root))
    refusals = [str(r) for r in second.plan().refusals]
    assert any("household.yaml" in r and "hukou_type" in r and "“1”3 行" in r for r in refusals), refusals
    with pytest.raises(MigrationRefused):
        second.migrate()
    H = second.models["household"]
    assert H.select().where(H.hukou_type == "1").count() == 3          # nothing lost
    second.db.close()
