"""import and template: rows from Excel or CSV, all or nothing, and the blank workbook to fill."""
import os

import click
from flask.cli import with_appcontext

from casework.core.imports import Importer, not_importable

from . import as_user, engine, user_option


def _importable(entity):
    registry = engine().registry
    if entity not in registry.entities:
        raise click.ClickException(f"没有实体 {entity}，可用：{', '.join(registry.entities)}")
    if not_importable(registry, entity):
        raise click.ClickException(not_importable(registry, entity))


def _report(outcome, dry_run):
    for p in outcome.problems:
        where = "".join([p.sheet or "文件", f" 第{p.row}行" if p.row else "", f" {p.column}" if p.column else ""])
        click.echo(f"{where}：{p.message}" + (f"（值：{p.value}）" if p.value not in (None, "") else ""))
    for n in outcome.notices:
        click.echo(n)
    if outcome.problems:
        raise click.ClickException(f"发现 {len(outcome.problems)} 处错误，未写入任何数据。")
    if outcome.unchanged:
        click.echo(f"{outcome.unchanged} 行与现有记录相同，未改动。")
    click.echo(f"校验通过：{outcome.rows} 行。（--dry-run：未写入）" if dry_run else
               f"导入完成：新增 {outcome.created} 条，更新 {outcome.updated} 条（批次 {outcome.batch}）。")


@click.command("import")
@click.argument("entity")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="只校验，不写入")
@click.option("--update", is_flag=True, help="更新模式：按身份证号（或唯一编号）找到已有记录，只改文件中有的列")
@user_option("以哪个用户的身份和管辖范围导入")
@with_appcontext
@as_user
def import_rows(entity, path, dry_run, update, user):
    """从 Excel（.xlsx/.xls）或 CSV 导入 ENTITY（如 household、member）。有任何错误就什么也不写入。"""
    _importable(entity)
    outcome = Importer(engine(), entity, user, update=update).run(
        os.path.abspath(path), os.path.basename(path), dry_run=dry_run,
        progress=lambda stage, done, total: click.echo(f"  {stage} {done}/{total}", err=True))
    _report(outcome, dry_run)


@click.command("template")
@click.argument("entity")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def template(entity, path):
    """生成 ENTITY 的 Excel 导入模板。"""
    from reports.template import write_template
    _importable(entity)
    write_template(engine().registry, entity, path)
    click.echo(f"已生成导入模板：{path}")


COMMANDS = [import_rows, template]
