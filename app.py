"""Jiuzhu (救助台账): create_app() and the command line (`flask --app app …`).

    flask --app app init [--demo]        create tables; the demo county, or only the administrator
    flask --app app migrate [--dry-run]  print the migration plan, then apply it
    python app.py                        serve with waitress (office PCs)
"""
import functools
import os
import secrets
import sys

import click
from flask import Flask

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DB = "sqlite:///" + os.path.join(HERE, "instance", "jiuzhu.db")


def _secret_key():
    """SECRET_KEY from the environment, else one generated once and kept in instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = os.path.join(HERE, "instance", "secret_key")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(secrets.token_hex(32))
        os.chmod(path, 0o600)
    with open(path) as fh:
        return fh.read().strip()


def _cli_command():
    """The flask CLI subcommand being run, if any (`run` and plain serving migrate on start)."""
    if os.path.basename(sys.argv[0]) not in ("flask", "flask.exe") and "flask" not in sys.argv[0:2]:
        return None
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    args = [a for i, a in enumerate(args) if not (i == 0 and a in ("app", "app.py", "app:create_app"))]
    return args[0] if args else None


def create_app(config=None):
    from admin_views import init_app
    from casework.engine import Engine
    from schema import SchemaError

    config = dict(config or {})
    app = Flask(__name__, instance_path=os.path.join(HERE, "instance"))
    app.config.update(
        DATABASE_URL=os.environ.get("DATABASE_URL", DEFAULT_DB),
        SCHEMA_DIR=os.environ.get("JIUZHU_SCHEMA_DIR") or None,
        MIGRATE_ON_START=_cli_command() in (None, "run"),
        SESSION_COOKIE_SECURE=os.environ.get("SESSION_COOKIE_SECURE") == "1",
        ATTACHMENT_DIR=os.environ.get("ATTACHMENT_DIR") or None,
        DATABASE_POOL=os.environ.get("DATABASE_POOL", "1") != "0",
    )
    app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key()
    try:
        kw = {"schema_dir": app.config["SCHEMA_DIR"]} if app.config["SCHEMA_DIR"] else {}
        # served apps keep PostgreSQL connections open between requests (DATABASE_POOL=0 turns it off)
        engine = Engine(app.config["DATABASE_URL"], pool=app.config.get("DATABASE_POOL", True), **kw)
        if app.config["MIGRATE_ON_START"]:
            for warning in engine.migrate().warnings:
                app.logger.warning("迁移提示：%s", warning)
    except SchemaError as e:
        raise SystemExit(f"救助台账无法启动：{e}") from None
    if os.environ.get("JIUZHU_BEHIND_PROXY") == "1" or app.config.get("BEHIND_PROXY"):
        # behind nginx: the client's address for the audit and https for Secure cookies come from the proxy
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
    init_app(app, engine)
    _register_cli(app, engine)
    return app


def _register_cli(app, engine):
    from casework.core import system
    from seeds import bootstrap

    def as_user(fn):
        """--user NAME: the command acts as that user, so its audit rows and scope are that user's."""
        @functools.wraps(fn)
        def command(*args, username, **kwargs):
            User = engine.models["user"]
            user = User.get_or_none(User.username == username)
            if user is None:
                raise click.ClickException(f"没有用户 {username}")
            with system.acting_as(user):
                return fn(*args, user=user, **kwargs)
        return command

    @app.cli.command("migrate")
    @click.option("--dry-run", is_flag=True, help="只打印迁移计划，不执行")
    def migrate_command(dry_run):
        """按 schema/ 中的声明迁移数据库：只增加，不删除、不缩小。"""
        the_plan = engine.plan()
        click.echo(f"数据库：{_safe_url(engine.database_url)}")
        click.echo("迁移计划：")
        click.echo(the_plan.describe())
        if the_plan.refusals:
            raise click.ClickException("存在可能丢失数据的修改，已拒绝迁移，数据库未作任何改动。")
        if dry_run:
            click.echo("（--dry-run：未执行）")
            return
        engine.migrate()
        click.echo("迁移完成。" if the_plan.steps else "无需迁移。")

    @app.cli.group("cases")
    def cases_group():
        """救助事项：逾期清单、重算期限。"""

    @cases_group.command("overdue")
    @click.option("--township", "township_code", help="只列出这个乡镇（街道）的事项（区划代码）")
    def cases_overdue(township_code):
        """打印已逾期的救助事项（按到期日排序）；有逾期事项时退出码为 1，便于定时任务报警。"""
        flow = engine.flow
        rows = flow.rows(flow.overdue_everywhere(), limit=None, township_code=township_code)
        labels = engine.registry.options["case_state"].labels
        for r in rows:
            late = (flow.clock() - r["due_date"]).days
            click.echo(f"{r['case_no']}\t{r['township']}\t{r['village']}\t{r['applicant_name']}\t"
                       f"{labels.get(r['state'], r['state'])}\t{r['due_item']}\t到期 {r['due_date']}\t逾期 {late} 天")
        click.echo(f"共 {len(rows)} 件逾期。")
        if rows:
            raise SystemExit(1)

    @cases_group.command("refresh-deadlines")
    def cases_refresh():
        """录入节假日或修改期限设置后，重算所有未办结事项的期限。"""
        click.echo(f"已重算，{engine.flow.refresh_all()} 件事项的期限有变化。")

    @app.cli.group("payments")
    def payments_group():
        """按月发放：生成发放台账、导出发放清单、导入银行回盘、关账。"""

    def _township(township_code):
        Area = engine.models["area"]
        township = Area.get_or_none(Area.code == township_code, Area.level == "township")
        if township is None:
            raise click.ClickException(f"没有乡镇（街道）代码 {township_code}")
        return township

    payment_options = [click.option("--township", "township_code", required=True, help="乡镇（街道）区划代码"),
                       click.option("--month", required=True, help="发放年月，如 2026-05"),
                       click.option("--user", "username", default="admin", show_default=True,
                                    help="以哪个用户的身份和管辖范围办理")]

    def with_payment_options(fn):
        fn = as_user(fn)
        for option in reversed(payment_options):
            fn = option(fn)
        return fn

    @payments_group.command("run")
    @with_payment_options
    def payments_run(township_code, month, user):
        """生成某乡镇某月的发放台账（可重复执行，不会重复生成）。"""
        from casework.funds import payments
        township = _township(township_code)
        try:
            r = payments.run(engine, user, township.id, month)
        except payments.PaymentRefused as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"{r.township} {r.month}：新生成 {r.created} 笔，合计 {r.total:.2f} 元，暂缓 {r.held} 笔；此前已有 {r.existing} 笔。")

    @payments_group.command("bank-list")
    @with_payment_options
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="写入的 .xlsx 文件")
    def payments_bank_list(township_code, month, user, out):
        """导出给银行的发放清单（待发的笔）。"""
        from casework.funds import payments
        township = _township(township_code)
        count, total = payments.export_bank_list(engine, user, township, month, out, engine.flow.clock())
        click.echo(f"已写入 {out}：{count} 笔，合计 {total:.2f} 元。")

    @payments_group.command("bank-return")
    @with_payment_options
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def payments_bank_return(township_code, month, user, path):
        """导入银行回盘；有任何问题都不作标记，逐行打印问题，退出码非0。"""
        from casework.funds import bank_return, payments
        township = _township(township_code)
        with open(path, "rb") as fh:
            data = fh.read()
        try:
            outcome = bank_return.apply(engine, user, township.id, month, data, os.path.basename(path))
        except payments.PaymentRefused as e:
            raise click.ClickException(str(e)) from None
        for p in outcome.problems:
            click.echo(f"第{p.row}行 {p.column}：{p.message}（值：{p.value}）" if p.row else p.message)
        if outcome.problems:
            raise click.ClickException(f"发现 {len(outcome.problems)} 处问题，未作任何标记。")
        click.echo(f"已导入：成功 {outcome.paid} 笔，失败 {outcome.failed} 笔。")

    @payments_group.command("close")
    @with_payment_options
    def payments_close(township_code, month, user):
        """关账：此后该乡镇该月的发放台账不能再改。"""
        from casework.funds import payments
        township = _township(township_code)
        try:
            payments.close(engine, user, township.id, month)
        except payments.PaymentRefused as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"{township.name} {month} 已关账。")

    @app.cli.group("report")
    def report_group():
        """报表：列出、运行。"""

    def _reports():
        from reports import engine as report_engine
        reports, errors = report_engine.load(engine.registry)
        for error in errors:
            click.echo(f"（报表文件有误，已跳过）{error}", err=True)
        return report_engine, reports

    @report_group.command("list")
    def report_list():
        """列出可用的报表和参数。"""
        _engine, reports = _reports()
        for name, report in reports.items():
            params = "，".join(f"{p.name}（{p.label}{'，必填' if p.required else ''}）" for p in report.params)
            click.echo(f"{name}\t{report.title}\t参数：{params or '无'}")

    @report_group.command("run")
    @click.argument("name")
    @click.option("--param", "params", multiple=True, help="参数，写作 key=value，可重复")
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="写入的 .xlsx 文件")
    @click.option("--user", "username", default="admin", show_default=True, help="以哪个用户的管辖范围统计")
    @as_user
    def report_run(name, params, out, user):
        """运行报表 NAME，写入 Excel。"""
        report_engine, reports = _reports()
        if name not in reports:
            raise click.ClickException(f"没有报表 {name}，可用：{', '.join(reports) or '无'}")
        raw = {}
        for item in params:
            if "=" not in item:
                raise click.ClickException(f"参数应写作 key=value，收到“{item}”")
            key, value = item.split("=", 1)
            raw[key.strip()] = value.strip()
        report = reports[name]
        try:
            values, results = report_engine.run(engine, user, report, raw)
        except report_engine.ReportError as e:
            raise click.ClickException(str(e)) from None
        from reports import form_workbook
        form_workbook.write(out, report, report_engine.describe(report, values, engine), results, user)
        for result in results:
            click.echo(f"{result.name}：{len(result.rows)} 行" + ("（无数据，只有表头）" if not result.rows else ""))
        click.echo(f"已写入 {out}")

    @app.cli.group("spotcheck")
    def spotcheck_group():
        """随机抽查。"""

    @spotcheck_group.command("draw")
    @click.option("--month", required=True, help="审批月份，如 2026-10")
    @click.option("--seed", type=int, help="随机种子（给出同一个种子，抽出同一批）")
    @click.option("--force", is_flag=True, help="已抽过的月份重新抽取（须县级管理员；前一次保留）")
    @click.option("--user", "username", default="admin", show_default=True, help="以哪个县级用户的身份抽取")
    @as_user
    def spotcheck_draw(month, seed, force, user):
        """抽取某月各乡镇新批准事项的抽查样本，打印各乡镇的抽取数和比例。"""
        from casework.supervision import spotcheck
        try:
            drawn = spotcheck.draw(engine, user, month, seed=seed, force=force)
        except spotcheck.DrawRefused as e:
            raise click.ClickException(str(e)) from None
        for d in drawn:
            state = "新抽取" if d.new else "已抽取过，未改变（重抽请加 --force）"
            click.echo(f"{d.township}\t新批准 {d.population} 件\t抽取 {len(d.sample)} 件（{d.share:.0%}）\t"
                       f"种子 {d.seed}\t{state}\t{'、'.join(d.sample)}")

    @app.cli.group("checks")
    def checks_group():
        """数据比对：死亡、重复享受、干部职工近亲属、金额与测算不符。"""

    @checks_group.command("run")
    @click.option("--kind", "kinds", multiple=True, type=click.Choice(["death", "duplicate", "relative", "amount", "head", "type"]),
                  help="只运行这几类（可重复）；不写则全部运行")
    def checks_run(kinds):
        """运行数据比对，新发现的写入“比对结果”，打印各类新发现数和待核实总数。"""
        from casework.supervision import checks
        labels = engine.registry.options["check_kind"].labels
        made = checks.run(engine, list(kinds) or None)
        Result = engine.models["check_result"]
        for kind, n in made.items():
            waiting = Result.select().where(Result.kind == kind, Result.status == "open").count()
            click.echo(f"{labels[kind]}\t新发现 {n} 条\t待核实共 {waiting} 条")

    @checks_group.command("deaths")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--source", help="数据来源，如 县公安局、殡葬管理所")
    def checks_deaths(path, source):
        """导入死亡人员名单（身份证号、姓名、死亡日期）并比对；有任何问题都不写入，逐行打印问题。"""
        from casework.supervision import checks
        with open(path, "rb") as fh:
            outcome = checks.import_deaths(engine, None, fh.read(), os.path.basename(path), source)
        for p in outcome.problems:
            click.echo(f"第{p.row}行 {p.column}：{p.message}（值：{p.value}）" if p.row else p.message)
        if outcome.problems:
            raise click.ClickException(f"发现 {len(outcome.problems)} 处问题，名单未导入。")
        click.echo(f"已导入 {outcome.added} 人（已有 {outcome.known} 人）；在保人员中发现 {outcome.found} 人，自次月起暂缓发放。")

    @app.cli.group("calendar")
    def calendar_group():
        """工作日历。"""

    @calendar_group.command("add-working-days")
    @click.argument("date")
    @click.argument("n", type=int)
    def add_working_days(date, n):
        """打印 DATE 之后第 N 个工作日（按法定节假日、调休和县里录入的日历）。"""
        import datetime as dt
        from casework.core.workdays import CalendarUnknown
        try:
            start = dt.date.fromisoformat(date)
        except ValueError:
            raise click.ClickException(f"日期格式应为 2026-09-30，收到 {date}") from None
        if n < 0:
            raise click.ClickException("N 不能为负数")
        try:
            click.echo(engine.flow.calendar().add_working_days(start, n).isoformat())
        except CalendarUnknown as e:
            raise click.ClickException(str(e)) from None

    @app.cli.group("settings")
    def settings_group():
        """系统设置。"""

    @settings_group.command("list")
    def settings_list():
        """列出所有设置项的当前值。"""
        for key, spec in engine.registry.settings.items():
            click.echo(f"{key}\t{engine.settings.get(key)}\t{spec.label}")

    @settings_group.command("profile")
    @click.argument("name")
    def settings_profile(name):
        """切换到一组设置方案，如 national（全国通行规定）或 taierzhuang（台儿庄区规程）。"""
        if name not in engine.registry.profiles:
            raise click.ClickException(f"没有设置方案 {name}，可用：{', '.join(engine.registry.profiles)}")
        engine.settings.apply_profile(name, by="命令行")
        click.echo(f"已切换为“{engine.registry.profiles[name].label}”，未办结事项的期限已重算。")

    @app.cli.command("backup")
    @click.option("--to", "to_dir", type=click.Path(file_okay=False), help="备份到这个文件夹（默认 instance/backups 或环境变量 BACKUP_DIR）")
    def backup_command(to_dir):
        """备份数据库（程序运行中也可以），核对备份能打开并清点行数，只保留最近几份（设置项）。"""
        from casework.core import backup
        try:
            result = backup.backup(engine, to_dir)
        except backup.BackupError as e:
            raise click.ClickException(str(e)) from None
        click.echo(result.describe())
        for name in result.removed:
            click.echo(f"已删除较早的备份 {name}")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(dir_okay=False))
    @click.option("--yes", is_flag=True, help="确认用备份覆盖当前数据库（当前数据库另存一份）")
    def restore_command(path, yes):
        """用备份文件 PATH 恢复数据库；当前数据库先另存，不加 --yes 不会覆盖。恢复前请先停止服务。"""
        from casework.core import backup
        if not yes:
            raise click.ClickException(f"恢复会用 {path} 覆盖当前数据库。确认请加 --yes（当前数据库会另存一份）。")
        try:
            kept, rows = backup.restore(engine, path)
        except backup.BackupError as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"已从 {path} 恢复" + (f"（{sum(rows.values())} 行）" if rows else "") + f"；原数据库另存为 {kept}")

    @app.cli.group("audit")
    def audit_group():
        """修改记录与安全审计记录的校验。"""

    @audit_group.command("verify")
    def audit_verify():
        """检查修改记录和安全审计记录的校验链；有被改动或删除的记录时列出并以退出码 1 结束。"""
        problems = engine.security_log.verify()
        for log, row_id, problem in problems:
            click.echo(f"{log} 第 {row_id} 条：{problem}")
        if problems:
            raise SystemExit(1)
        click.echo("校验通过：修改记录和安全审计记录都没有被改动或删除。")

    @app.cli.command("init")
    @click.option("--demo", is_flag=True, help="创建演示县（两个乡镇、六个村、约500户）和演示账号")
    @click.option("--county-code", envvar="JIUZHU_COUNTY_CODE", help="本县区划代码（6位）")
    @click.option("--county-name", envvar="JIUZHU_COUNTY_NAME", help="本县名称")
    @click.option("--admin-password", envvar="JIUZHU_ADMIN_PASSWORD", help="管理员 admin 的密码")
    def init_command(demo, county_code, county_name, admin_password):
        """建表；--demo 时载入演示数据，否则只创建管理员。重复执行不会改变已有数据。"""
        engine.migrate()
        if demo:
            report = bootstrap.demo(engine)
            click.echo(report)
            return
        county_code = county_code or click.prompt("本县区划代码（6位）")
        county_name = county_name or click.prompt("本县名称")
        if not admin_password and not bootstrap.has_admin(engine):
            rules = "；".join(engine.accounts.rules()[:3])
            admin_password = click.prompt(f"管理员 admin 的密码（{rules}）", hide_input=True,
                                          confirmation_prompt=True)
        try:
            click.echo(bootstrap.minimal(engine, county_code, county_name, admin_password))
        except ValueError as e:
            raise click.ClickException(str(e)) from None


    @app.cli.command("import")
    @click.argument("entity")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--dry-run", is_flag=True, help="只校验，不写入")
    @click.option("--update", is_flag=True, help="更新模式：按身份证号（或唯一编号）找到已有记录，只改文件中有的列")
    @click.option("--user", "username", default="admin", show_default=True, help="以哪个用户的身份和管辖范围导入")
    @as_user
    def import_command(entity, path, dry_run, update, user):
        """从 Excel（.xlsx/.xls）或 CSV 导入 ENTITY（如 household、member）。有任何错误就什么也不写入。"""
        from casework.core.imports import Importer, not_importable
        if entity not in engine.registry.entities:
            raise click.ClickException(f"没有实体 {entity}，可用：{', '.join(engine.registry.entities)}")
        if not_importable(engine.registry, entity):
            raise click.ClickException(not_importable(engine.registry, entity))
        with open(path, "rb") as fh:
            data = fh.read()
        outcome = Importer(engine, entity, user, update=update).run(
            data, os.path.basename(path), dry_run=dry_run,
            progress=lambda stage, done, total: click.echo(f"  {stage} {done}/{total}", err=True))
        for p in outcome.problems:
            where = "".join([p.sheet or "文件", f" 第{p.row}行" if p.row else "", f" {p.column}" if p.column else ""])
            click.echo(f"{where}：{p.message}" + (f"（值：{p.value}）" if p.value not in (None, "") else ""))
        for n in outcome.notices:
            click.echo(n)
        if outcome.problems:
            raise click.ClickException(f"发现 {len(outcome.problems)} 处错误，未写入任何数据。")
        if outcome.unchanged:
            click.echo(f"{outcome.unchanged} 行与现有记录相同，未改动。")
        if dry_run:
            click.echo(f"校验通过：{outcome.rows} 行。（--dry-run：未写入）")
        else:
            click.echo(f"导入完成：新增 {outcome.created} 条，更新 {outcome.updated} 条（批次 {outcome.batch}）。")

    @app.cli.command("template")
    @click.argument("entity")
    @click.argument("path", type=click.Path(dir_okay=False))
    def template_command(entity, path):
        """生成 ENTITY 的 Excel 导入模板。"""
        from casework.core.imports import not_importable
        from reports.template import write_template
        if entity not in engine.registry.entities:
            raise click.ClickException(f"没有实体 {entity}")
        if not_importable(engine.registry, entity):
            raise click.ClickException(not_importable(engine.registry, entity))
        write_template(engine.registry, entity, path)
        click.echo(f"已生成导入模板：{path}")


def _safe_url(url):
    from urllib.parse import urlparse
    p = urlparse(url)
    return url.replace(p.password, "***") if p.password else url


def serve():
    from waitress import serve as waitress_serve
    app = create_app()
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    from casework.core import backup
    backup.start_daily(app.extensions["jiuzhu"])
    print(f"救助台账已启动：http://{host}:{port}/  （按 Ctrl+C 停止）")
    waitress_serve(app, host=host, port=port, threads=int(os.environ.get("THREADS", "8")))


if __name__ == "__main__":
    serve()
