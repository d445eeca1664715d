"""The acting user is the one the command or request names, and list views leave the save hooks alone."""
from casework.core import system
from tests.conftest import engine_of


def test_cli_import_writes_audit_rows_under_the_named_user(app, tmp_path):
    engine = engine_of(app)
    path = tmp_path / "h.csv"
    path.write_bytes("\ufeff户编号,所属村（社区）,户主姓名,户主身份证号,户口性质\nCLI-1,中心社区,张,370481195803121233,城镇\n"
                     .encode("utf-8"))
    result = app.test_cli_runner().invoke(args=["import", "household", str(path), "--user", "village1"])
    assert result.exit_code == 0, result.output
    H = engine.models["household"]
    record = H.get(H.code == "CLI-1")
    Audit = engine.system.AuditLog
    rows = list(Audit.select().where(Audit.entity == "household",
                                     Audit.record_id == record.id))
    assert rows and {r.username for r in rows} == {"village1"}
    assert system.actor.get() is None


def test_cli_refuses_an_unknown_user(app, tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes("户编号\n".encode("utf-8"))
    result = app.test_cli_runner().invoke(args=["import", "household", str(path), "--user", "nobody"])
    assert result.exit_code != 0 and "没有用户 nobody" in result.output


def test_list_views_do_not_register_save_hooks(app, browser_for):
    hooks = engine_of(app).models.hooks
    county = browser_for("county")
    assert county.get("/admin/household/").status_code == 200
    before = (len(hooks.before), len(hooks.after))
    for _ in range(10):
        assert county.get("/admin/household/").status_code == 200
    assert (len(hooks.before), len(hooks.after)) == before
