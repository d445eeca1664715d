"""First run: the demo county (idempotent, at least two townships × three villages, valid people) and
the administrator-only set-up."""
from schema import idnumber

from .conftest import Browser, make_app


def test_demo_init_twice_changes_nothing(tmp_path):
    app = make_app(f"sqlite:///{tmp_path}/d.db", MIGRATE_ON_START=False)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init", "--demo"])
    assert first.exit_code == 0, first.output
    assert "jiuzhu-demo" in first.output and "village1" in first.output
    engine = app.extensions["jiuzhu"]
    A, H, M, U = (engine.models[n] for n in ("area", "household", "member", "user"))
    counts = [m.select().count() for m in (A, H, M, U)]
    audit = engine.system.AuditLog.select().count()
    second = runner.invoke(args=["init", "--demo"])
    assert second.exit_code == 0 and "新建家庭户 0 条" in second.output
    assert [m.select().count() for m in (A, H, M, U)] == counts
    assert engine.system.AuditLog.select().count() == audit
    towns = A.select().where(A.level == "township")
    assert towns.count() >= 2
    for town in towns:
        assert A.select().where((A.parent == town) & (A.level == "village")).count() >= 3
    assert 450 <= counts[1] <= 550
    for m in M.select().limit(300):
        number, birth, sex, _ = idnumber.parse(m.id_number)
        assert (m.birth_date, m.sex) == (birth, sex)
    village1 = U.get(U.username == "village1")
    town1 = U.get(U.username == "town1")
    assert A.get_by_id(village1.area).parent == town1.area
    for name in ["admin", "county", "town1", "town2", "village1"]:
        assert Browser(app).login(name).status_code == 302, name


def test_plain_init_creates_only_the_administrator(tmp_path):
    app = make_app(f"sqlite:///{tmp_path}/p.db", MIGRATE_ON_START=False)
    runner = app.test_cli_runner()
    short = runner.invoke(args=["init", "--county-code", "370405", "--county-name", "台儿庄区",
                                "--admin-password", "short"])
    assert short.exit_code != 0 and "至少 8 位" in short.output
    plain = runner.invoke(args=["init", "--county-code", "370405", "--county-name", "台儿庄区",
                                "--admin-password", "onlylowercaseletters"])
    assert plain.exit_code != 0 and "至少 3 类" in plain.output
    engine = app.extensions["jiuzhu"]
    assert engine.models["user"].select().count() == 0
    ok = runner.invoke(args=["init", "--county-code", "370405", "--county-name", "台儿庄区"],
                       input="long-enough-1\nlong-enough-1\n")
    assert ok.exit_code == 0, ok.output
    assert [u.username for u in engine.models["user"].select()] == ["admin"]
    assert engine.models["household"].select().count() == 0
    assert Browser(app).login("admin", "long-enough-1").status_code == 302
    again = runner.invoke(args=["init", "--county-code", "370405", "--county-name", "台儿庄区"])
    assert again.exit_code == 0 and "已存在" in again.output


def test_demo_has_cases_in_every_state_some_overdue(app):
    from .conftest import engine_of
    eng = engine_of(app)
    Case, Step = eng.models["case"], eng.models["case_step"]
    states = {s for (s,) in Case.select(Case.state).distinct().tuples()}
    every = {o.code for o in eng.registry.options["case_state"].options}
    assert every - states == set()
    types = {t for (t,) in Case.select(Case.assistance_type).distinct().tuples()}
    assert {"11", "12", "13", "21", "31", "32"} <= types
    assert eng.flow.overdue_everywhere().count() > 0
    # every case starts with its signed registration step
    assert Step.select().where(Step.action == "register").count() == Case.select().count()
