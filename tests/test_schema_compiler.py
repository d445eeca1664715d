"""The compiler accepts the shipped schema and names file, entity and field in every error."""
import shutil

import pytest

from casework.core import derive
from casework.engine import SCHEMA_DIR
from schema import SchemaError, load


def copy_schema(tmp_path):
    target = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__", "README.md"))
    return target


def load_dir(path):
    return load(str(path), derive.names())


def test_shipped_schema_compiles_with_national_option_lists():
    reg = load(SCHEMA_DIR, derive.names())
    assert {"area", "household", "member", "user"} <= set(reg.entities)
    for name in ["sex", "relation", "ethnicity", "hukou_type", "health", "disability_class",
                 "disability_grade", "labour_capacity", "marital_status", "education", "assistance_type"]:
        assert name in reg.options, name
    assert reg.options["relation"].label_of("02") == "户主"
    assert reg.options["ethnicity"].label_of("01") == "汉族"
    assert len([o for o in reg.options["ethnicity"].options if o.code <= "56"]) == 56
    assert reg.options["sex"].code_of("女") == "2"
    member = reg.entities["member"]
    assert member.field("id_number").type == "id_card" and member.field("id_number").unique


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("file,old,new,words", [
    ("member.yaml", "type: id_card", "type: idcard", ["member.yaml", "member", "id_number", "idcard"]),
    ("member.yaml", "options: relation", "options: relations", ["member.yaml", "member", "relation", "relations"]),
    ("member.yaml", "to: household", "to: family", ["member.yaml", "member", "household", "family"]),
    ("household.yaml", "{name: phone, type: phone", "{name: code, type: phone",
     ["household.yaml", "household", "code", "重复"]),
    ("household.yaml", "label: 户主姓名,", "labl: 户主姓名,", ["household.yaml", "household", "head_name", "labl"]),
    ("member.yaml", "default: 0,", "default: abc,", ["member.yaml", "monthly_income", "默认值"]),
    ("household.yaml", "search: [code, head_name, head_id_number]", "search: [code, nosuch]",
     ["household.yaml", "household", "nosuch"]),
    ("household.yaml", "scope: village", "scope: hukou_type", ["household.yaml", "household", "scope"]),
])
def test_schema_errors_name_file_entity_and_field(tmp_path, file, old, new, words):
    root = copy_schema(tmp_path)
    edit(root / file, old, new)
    with pytest.raises(SchemaError) as err:
        load_dir(root)
    message = str(err.value)
    for w in words:
        assert w in message, (w, message)


def test_bad_yaml_names_the_file_and_line(tmp_path):
    root = copy_schema(tmp_path)
    (root / "household.yaml").write_text("name: household\nfields: [\n  - {name: x\n", encoding="utf-8")
    with pytest.raises(SchemaError) as err:
        load_dir(root)
    assert "household.yaml" in str(err.value) and "YAML" in str(err.value) and "行" in str(err.value)


def test_bad_option_list_is_named(tmp_path):
    root = copy_schema(tmp_path)
    (root / "options" / "sex.yaml").write_text(
        "name: sex\nlabel: 性别\noptions:\n  - {code: '1', label: 男}\n  - {code: '1', label: 女}\n", encoding="utf-8")
    with pytest.raises(SchemaError) as err:
        load_dir(root)
    assert "sex.yaml" in str(err.value) and "重复" in str(err.value)


def test_app_refuses_to_start_on_invalid_schema(tmp_path):
    from tests.conftest import make_app
    root = copy_schema(tmp_path)
    edit(root / "member.yaml", "type: id_card", "type: nonsense")
    with pytest.raises(SystemExit) as err:
        make_app(f"sqlite:///{tmp_path}/x.db", SCHEMA_DIR=str(root))
    assert "member.yaml" in str(err.value) and "id_number" in str(err.value)


def test_new_field_appears_in_form_list_and_export(tmp_path, demo_file):
    """The contract: appending a field to household.yaml is all it takes."""
    from tests.conftest import Browser, make_app
    from python_calamine import CalamineWorkbook
    root = copy_schema(tmp_path)
    text = (root / "household.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    last_field = max(i for i, line in enumerate(lines) if line.startswith("  - {name:"))
    lines.insert(last_field + 1, "  - {name: x, type: text, label: 备注X}")
    (root / "household.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "app.db"
    shutil.copy(demo_file, db)
    app = make_app(f"sqlite:///{db}", SCHEMA_DIR=str(root))
    engine = app.extensions["jiuzhu"]
    H = engine.models["household"]
    assert H.select().count() == 500                    # existing rows kept
    cols = [r[1] for r in engine.db.execute_sql('PRAGMA table_info("household")').fetchall()]
    assert "x" in cols
    b = Browser(app)
    b.login("admin")
    first = H.select().order_by(H.id).first()
    assert "备注X" in b.get("/admin/household/new/").get_data(as_text=True)
    r = b.post(f"/admin/household/edit/?id={first.id}", data=_form_of(first, x="新字段的值"))
    assert r.status_code == 302
    assert H.get_by_id(first.id).x == "新字段的值"
    listing = b.get(f"/admin/household/?search={first.code}").get_data(as_text=True)
    assert "备注X" in listing and "新字段的值" in listing
    export = b.get(f"/admin/household/export/xlsx/?search={first.code}")
    path = tmp_path / "out.xlsx"
    path.write_bytes(export.data)
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert "备注X" in rows[0]
    assert rows[1][rows[0].index("备注X")] == "新字段的值"


def _form_of(h, **extra):
    data = {"code": h.code, "village": str(h.village), "head_name": h.head_name,
            "head_id_number": h.head_id_number, "hukou_type": h.hukou_type, "status": h.status or "",
            "address": h.address or "", "phone": h.phone or "", "bank_name": h.bank_name or "",
            "account_name": h.account_name or "", "bank_account": h.bank_account or ""}
    data.update(extra)
    return data


@pytest.mark.parametrize("file,old,new,message", [
    ("workflows/dibao.yaml", "    to: investigating\n", "    to: nowhere\n", "dibao.yaml.*状态 nowhere 不在选项表 case_state"),
    ("workflows/dibao.yaml", "roles: [township_staff, county_admin]\n    checked",
     "roles: [mayor]\n    checked", "dibao.yaml.*不存在的角色 mayor"),
    ("workflows/dibao.yaml", "days: investigation_days}", "days: no_such_setting}", "dibao.yaml.*no_such_setting"),
    ("workflows/tekun.yaml", 'types: {family: tekun}', 'types: ["12"]', "类别 12 已由流程 dibao 办理"),
    ("workflows/tekun.yaml", 'types: {family: tekun}', 'types: {famly: tekun}', "types 中的 famly 不是选项表 assistance_type 的属性"),
    ("workflows/tekun.yaml", 'types: {family: tekun}', 'types: {family: tekunn}', "没有 family 为 tekunn 的类别"),
    ("workflows/tekun.yaml", "extends: dibao", "extends: lowincome", "继承的流程 lowincome 不存在"),
    ("workflows/dibao.yaml", "check: {field: verification_result, eq: pass}",
     "check: {field: verification_result, eq: maybe}", "dibao.yaml.*maybe 不在选项表 verification_result"),
    ("workflows/dibao.yaml", "requires: [proposed_amount, notice_start]", "requires: [proposed_amount, salary]",
     "dibao.yaml.*不存在的字段 salary"),
    ("workflows/temporary.yaml", 'le: "setting:temp_aid_township_limit"', 'le: "setting:limit"',
     "temporary.yaml.*不存在的设置 limit"),
    ("workflows/dibao.yaml", "pauses: [evaluation]", "pauses: [resting]", "dibao.yaml.*resting 不在选项表 case_state"),
    ("workflows/dibao.yaml", "defaults: {notice_start: today}", "defaults: {notice_end: today}",
     "dibao.yaml.*defaults 中的 notice_end 不在 fields 中"),
    ("workflows/dibao.yaml", "after: notice_start}", "after: objection}", "dibao.yaml.*after: 日期字段"),
    ("profiles/national.yaml", "notice_days: 7", "notice_dayz: 7", "national.yaml.*notice_dayz 不是设置项"),
    ("notices.yaml", "{path: applicant_name, label: 申请人}", "{path: household.bank_account, label: 账号}\n      - {path: household.head_name}",
     None),
])
def test_workflow_and_profile_errors_name_the_file(tmp_path, file, old, new, message):
    root = copy_schema(tmp_path)
    edit(root / file, old, new)
    if message is None:                       # masked types may be published
        load_dir(root)
        return
    with pytest.raises(SchemaError, match=message):
        load_dir(root)


def test_notice_refuses_a_sensitive_field(tmp_path):
    root = copy_schema(tmp_path)
    edit(root / "member.yaml", "{name: monthly_income, type: money, label: 月收入,",
         "{name: monthly_income, type: money, label: 月收入, sensitive: true,")
    edit(root / "notices.yaml", "entity: case", "entity: member")
    edit(root / "notices.yaml", "village: village", "village: household.village")
    edit(root / "notices.yaml", "start: notice_start\n    end: notice_end",
         "start: birth_date\n    end: birth_date")
    edit(root / "notices.yaml", "      - {path: applicant_name, label: 申请人}\n", "      - {path: monthly_income}\n")
    with pytest.raises(SchemaError, match="notices.yaml.*不能公开敏感字段 monthly_income"):
        load_dir(root)
