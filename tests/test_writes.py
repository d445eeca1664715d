"""`writers:` and `immutable_after:` are declarations enforced on every path: an import by another role
leaves a `writers:`-protected field alone (and says why) while the county's import changes it; a direct
save by that role is refused with the field named; a frozen row is never saved again; bad declarations
are refused by the compiler."""
import io
import shutil

import pytest
import xlsxwriter

from casework.core import derive, system
from casework.core.imports import Importer
from casework.engine import SCHEMA_DIR, Engine
from schema import RecordInvalid, SchemaError, load

from .test_workflow import World

ADDRESS = "  - {name: address, type: text, label: 现住址,"


def schema_copy(tmp_path, edit=None):
    root = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    household = root / "household.yaml"
    text = household.read_text(encoding="utf-8")
    assert ADDRESS in text
    household.write_text(text.replace(ADDRESS, ADDRESS + " writers: [county],", 1), encoding="utf-8")
    if edit:
        edit(root)
    return str(root)


@pytest.fixture
def world(db_url, tmp_path):
    engine = Engine(db_url, schema_dir=schema_copy(tmp_path))
    engine.migrate()
    yield World(engine)
    engine.db.close()


def workbook(rows):
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False})
    sheet = book.add_worksheet("家庭户")
    for r, row in enumerate([["户编号", "现住址"]] + rows):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    book.close()
    return out.getvalue()


def test_an_import_by_another_role_cannot_change_a_protected_field(world):
    H = world.engine.models["household"]
    data = workbook([["H0", "台儿庄区运河街道1号"]])
    outcome = Importer(world.engine, "household", world.users["town"], update=True).run(data, "改.xlsx")
    assert H.get(H.code == "H0").address is None
    said = " ".join(str(n) for n in outcome.notices)
    assert "现住址（乡镇工作人员不能修改，由县级填写）" in said
    outcome = Importer(world.engine, "household", world.users["admin"], update=True).run(data, "改.xlsx")
    assert outcome.committed and outcome.updated == 1, outcome.problems
    assert H.get(H.code == "H0").address == "台儿庄区运河街道1号"


def test_a_save_by_another_role_is_refused_and_writes_nothing(world):
    H = world.engine.models["household"]
    record = H.get(H.code == "H0")
    token = system.actor.set((world.users["town"].id, "town", None))
    try:
        record.address = "运河街道2号"
        with pytest.raises(RecordInvalid, match="不能修改：现住址") as refused:
            record.save()
        assert list(refused.value.errors) == ["code"]          # shown on the first field the role may write
        record = H.get(H.code == "H0")
        record.phone = "13912345678"                           # what the role may write is saved
        record.save()
    finally:
        system.actor.reset(token)
    stored = H.get(H.code == "H0")
    assert (stored.phone, stored.address) == ("13912345678", None)


def test_a_row_frozen_once_saved_is_never_saved_again(world):
    Entry = world.engine.models["reserve_entry"]
    entry = Entry.get(Entry.township == world.towns[0].id)
    entry.note = "改写"
    with pytest.raises(RecordInvalid, match="备用金收支登记后不能修改") as refused:
        entry.save()
    assert list(refused.value.errors) == ["amount"]
    assert Entry.get_by_id(entry.id).note == "县财政拨入备用金"
    spec = world.engine.registry.entities["reserve_entry"]
    assert not any(f.user_may_write(existing=True) for f in spec.fields)          # no path offers them
    assert spec.field("amount").user_may_write(existing=False)


def test_bad_declarations_are_refused(tmp_path):
    def unknown_role(root):
        path = root / "finding.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("writers: [county]", "writers: [countyy]", 1),
                        encoding="utf-8")
    with pytest.raises(SchemaError) as e:
        load(schema_copy(tmp_path, unknown_role), derive.names())
    assert "finding.yaml" in str(e.value) and "writers 中的 countyy 不是角色代码" in str(e.value)

    def bad_field(root):
        path = root / "recovery.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("field: amount", "field: amont", 1), encoding="utf-8")
    shutil.rmtree(tmp_path / "schema")
    with pytest.raises(SchemaError) as e:
        load(schema_copy(tmp_path, bad_field), derive.names())
    assert "recovery.yaml" in str(e.value) and "immutable_after 中的 amont 不是字段" in str(e.value)
