"""The security log and the change log as the audit administrator and an intruder meet them: every
listed event leaves its row, nobody changes or deletes a row on any path, `audit verify` finds a row
changed directly in the database."""
import peewee as pw
import pytest

from casework.core import system

from .conftest import Browser, engine_of
from .test_security_accounts import STRONG, events, new_user


def drop_protection(eng, table):
    """What an intruder with database rights does first: the triggers are not the last line."""
    if isinstance(eng.db, pw.PostgresqlDatabase):
        eng.db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    else:
        for op in ("update", "delete"):
            eng.db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_no_{op}")


def test_audit_rows_cannot_be_changed_or_deleted_on_any_path(any_app):
    eng = engine_of(any_app)
    eng.security_log.record("login", username="x", subject="x")
    event = eng.security_log.Event.select().order_by(eng.security_log.Event.id.desc()).first()
    audit = eng.system.AuditLog.select().first()
    for row in (event, audit):
        row.ip = "6.6.6.6"
        with pytest.raises(PermissionError):
            row.save()
        with pytest.raises(PermissionError):
            row.delete_instance()
        with pytest.raises(PermissionError):
            type(row).update(ip="6.6.6.6").execute()
        with pytest.raises(PermissionError):
            type(row).delete().execute()
        table = type(row)._meta.table_name
        for sql in (f"UPDATE {table} SET ip = '6.6.6.6' WHERE id = {row.id}", f"DELETE FROM {table} WHERE id = {row.id}"):
            with pytest.raises(pw.DatabaseError) as e:
                with eng.db.atomic():
                    eng.db.execute_sql(sql)
            assert "只能新增" in str(e.value)
    # no web route writes them either: the pages are read-only, flask-admin's model routes do not exist
    b = Browser(any_app)
    b.login("admin")
    for url in (f"/admin/audit/edit/?id={audit.id}", f"/admin/audit/delete/?id={audit.id}",
                f"/admin/security-log/edit/?id={event.id}", "/admin/security-log/delete/"):
        assert b.post(url, data={"ip": "6.6.6.6"}).status_code in (404, 405)
    assert eng.system.AuditLog.get_by_id(audit.id).ip != "6.6.6.6"


def test_audit_verify_finds_a_row_changed_in_the_database(any_app):
    eng = engine_of(any_app)
    runner = any_app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "校验通过" in ok.output, ok.output
    eng.security_log.record("login", username="someone", subject="someone")
    event = eng.security_log.Event.select().order_by(eng.security_log.Event.id.desc()).first()
    audit = eng.system.AuditLog.select().order_by(eng.system.AuditLog.id.desc()).first()
    for table in ("security_event", "audit_log"):
        drop_protection(eng, table)
    try:
        eng.db.execute_sql(f"UPDATE security_event SET username = 'other' WHERE id = {event.id}")
        eng.db.execute_sql(f"UPDATE audit_log SET changes = '{{}}' WHERE id = {audit.id}")
        bad = runner.invoke(args=["audit", "verify"])
        assert bad.exit_code == 1
        assert f"安全审计记录 第 {event.id} 条：内容与记录时的校验值不符" in bad.output
        assert f"修改记录 第 {audit.id} 条：内容与记录时的校验值不符" in bad.output
    finally:
        # the PostgreSQL app is shared by other tests: put the rows back as they were, then protect again
        eng.db.execute_sql("UPDATE security_event SET username = %s WHERE id = %s" if _pg(eng) else
                           "UPDATE security_event SET username = ? WHERE id = ?", (event.username, event.id))
        eng.db.execute_sql("UPDATE audit_log SET changes = %s WHERE id = %s" if _pg(eng) else
                           "UPDATE audit_log SET changes = ? WHERE id = ?", (audit.changes, audit.id))
        eng.security_log.create()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def _pg(eng):
    return isinstance(eng.db, pw.PostgresqlDatabase)


def test_security_events_are_logged_searched_and_exported(any_app):
    eng = engine_of(any_app)
    user = new_user(any_app)
    b = Browser(any_app)
    b.login(user.username, "Wrong#pass1")
    b.login(user.username, STRONG)
    b.post("/logout")
    assert events(any_app, "login_failed", user.username)[0].ip == "127.0.0.1"
    assert events(any_app, "login", user.username) and events(any_app, "logout", user.username)
    admin = new_user(any_app, role="county_admin", area="370405")
    a = Browser(any_app)
    a.login(admin.username, STRONG)
    r = a.post(f"/admin/user/edit/?id={user.id}", data={
        "username": user.username, "full_name": user.full_name, "role": "township_leader",
        "area": str(user.area_id), "active": "y"})
    assert r.status_code == 302
    change = events(any_app, "role_change", admin.username)[0]
    assert change.subject == user.username and change.detail == "乡镇工作人员 → 乡镇分管领导"
    page = a.get(f"/admin/security-log/?subject={user.username}").get_data(as_text=True)
    assert "登录失败" in page and "角色变更" in page and "退出登录" in page
    r = a.get(f"/admin/security-log/export.xlsx?subject={user.username}")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    from python_calamine import CalamineWorkbook
    import io
    rows = CalamineWorkbook.from_filelike(io.BytesIO(r.data)).get_sheet_by_index(0).to_python()
    assert rows[0][:5] == ["序号", "时间", "操作人", "IP", "事件"]
    assert {"登录失败", "登录成功", "退出登录", "角色变更"} <= {row[4] for row in rows[1:]}
    assert events(any_app, "export", admin.username)
    town = Browser(any_app)
    town.login("town1")
    assert town.get("/admin/security-log/").status_code == 403
    assert town.get("/admin/security-log/export.xlsx").status_code == 403


def test_every_view_of_a_full_id_number_is_logged(any_app):
    eng = engine_of(any_app)
    H = eng.models["household"]
    town = Browser(any_app)
    town.login("town1")
    household = eng.models["household"].select().where(H.code.startswith("DEMO-001001")).first()
    E = eng.security_log.Event
    before = E.select().where(E.kind == "unmask_view").count()
    page = town.get(f"/admin/household/details/?id={household.id}").get_data(as_text=True)
    assert household.head_id_number in page
    seen = E.select().where((E.kind == "unmask_view") & (E.record_id == household.id)).order_by(E.id.desc()).first()
    assert seen.username == "town1" and seen.ip == "127.0.0.1" and seen.entity == "household"
    assert seen.subject == str(household)[:100] and "户主身份证号" in seen.detail
    r = town.get("/admin/household/export/xlsx/")
    assert r.status_code == 200
    export = E.select().where((E.kind == "export") & (E.username == "town1")).order_by(E.id.desc()).first()
    assert "家庭户" in export.detail and "/admin/household/export/xlsx/" in export.detail
    unmasked = E.select().where((E.kind == "unmask_view") & (E.username == "town1")).order_by(E.id.desc()).first()
    assert unmasked.detail.startswith("导出家庭户") and "户主身份证号" in unmasked.detail
    assert E.select().where(E.kind == "unmask_view").count() == before + 2
    # a list page shows masked numbers only: nothing to log
    town.get("/admin/household/")
    assert E.select().where(E.kind == "unmask_view").count() == before + 2


def test_a_printed_document_with_full_numbers_is_logged(any_app):
    eng = engine_of(any_app)
    Case = eng.models["case"]
    town = Browser(any_app)
    town.login("town1")
    spec = eng.documents["approval_form"]
    case = next(c for c in scope_cases(eng, "town1") if spec.offered(c))
    E = eng.security_log.Event
    r = town.get(f"/admin/case/document/?id={case.id}&name=approval_form")
    assert r.status_code == 200
    seen = E.select().where((E.kind == "unmask_view") & (E.record_id == case.id) & (E.entity == "case")).first()
    assert seen.username == "town1" and seen.detail == f"文书：{spec.label}"
    r = town.get(f"/admin/case/document/?id={case.id}&name=approval_form&format=docx")
    assert r.status_code == 200
    export = E.select().where((E.kind == "export") & (E.username == "town1")).order_by(E.id.desc()).first()
    assert ".docx" in export.detail and f"id={case.id}" in export.detail
    assert Case.get_by_id(case.id)


def scope_cases(eng, username):
    from casework.core import scope
    U = eng.models["user"]
    return scope.scoped(eng.models, "case", U.get(U.username == username)).limit(200)
