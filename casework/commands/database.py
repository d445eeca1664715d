"""init, migrate, backup, restore: the database itself."""
from urllib.parse import urlparse

import click
from flask.cli import with_appcontext

from casework.core import backup as backups

from . import engine, refusing


def safe_url(url):
    p = urlparse(url)
    return url.replace(p.password, "***") if p.password else url


@click.command("init")
@click.option("--demo", is_flag=True, help="创建演示县（两个乡镇、六个村、约500户）和演示账号")
@click.option("--county-code", envvar="JIUZHU_COUNTY_CODE", help="本县区划代码（6位）")
@click.option("--county-name", envvar="JIUZHU_COUNTY_NAME", help="本县名称")
@click.option("--admin-password", envvar="JIUZHU_ADMIN_PASSWORD", help="管理员 admin 的密码")
@with_appcontext
def init(demo, county_code, county_name, admin_password):
    """建表；--demo 时载入演示数据，否则只创建管理员。重复执行不会改变已有数据。"""
    from seeds import bootstrap
    eng = engine()
    eng.migrate()
    if demo:
        click.echo(bootstrap.demo(eng))
        return
    county_code = county_code or click.prompt("本县区划代码（6位）")
    county_name = county_name or click.prompt("本县名称")
    if not admin_password and not bootstrap.has_admin(eng):
        admin_password = click.prompt(f"管理员 admin 的密码（{'；'.join(eng.accounts.rules()[:3])}）",
                                      hide_input=True, confirmation_prompt=True)
    try:
        click.echo(bootstrap.minimal(eng, county_code, county_name, admin_password))
    except ValueError as e:        # the password policy or a malformed county code, said in Chinese
        raise click.ClickException(str(e)) from None


@click.command("migrate")
@click.option("--dry-run", is_flag=True, help="只打印迁移计划，不执行")
@with_appcontext
def migrate(dry_run):
    """按 schema/ 中的声明迁移数据库：只增加，不删除、不缩小。"""
    eng = engine()
    the_plan = eng.plan()
    click.echo(f"数据库：{safe_url(eng.database_url)}\n迁移计划：\n{the_plan.describe()}")
    if the_plan.refusals:
        raise click.ClickException("存在可能丢失数据的修改，已拒绝迁移，数据库未作任何改动。")
    if dry_run:
        click.echo("（--dry-run：未执行）")
        return
    eng.migrate()
    click.echo("迁移完成。" if the_plan.steps else "无需迁移。")


@click.command("backup")
@click.option("--to", "to_dir", type=click.Path(file_okay=False),
              help="备份到这个文件夹（默认 instance/backups 或环境变量 BACKUP_DIR）")
@with_appcontext
@refusing(backups.BackupError)
def backup(to_dir):
    """备份数据库（程序运行中也可以），核对备份能打开并清点行数，只保留最近几份（设置项）。"""
    result = backups.backup(engine(), to_dir)
    click.echo(result.describe())
    for name in result.removed:
        click.echo(f"已删除较早的备份 {name}")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="确认用备份覆盖当前数据库（当前数据库另存一份）")
@with_appcontext
@refusing(backups.BackupError)
def restore(path, yes):
    """用备份文件 PATH 恢复数据库；当前数据库先另存，不加 --yes 不会覆盖。恢复前请先停止服务。"""
    if not yes:
        raise click.ClickException(f"恢复会用 {path} 覆盖当前数据库。确认请加 --yes（当前数据库会另存一份）。")
    kept, rows = backups.restore(engine(), path)
    click.echo(f"已从 {path} 恢复" + (f"（{sum(rows.values())} 行）" if rows else "") + f"；原数据库另存为 {kept}")


COMMANDS = [init, migrate, backup, restore]
