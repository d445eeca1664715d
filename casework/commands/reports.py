"""report: the declared reports, listed and run into Excel."""
import click
from flask.cli import AppGroup

from . import as_user, engine, user_option

report = AppGroup("report", help="报表：列出、运行。")


def _load():
    from reports import engine as report_engine
    found, errors = report_engine.load(engine().registry)
    for error in errors:
        click.echo(f"（报表文件有误，已跳过）{error}", err=True)
    return report_engine, found


def _params(items):
    raw = {}
    for item in items:
        if "=" not in item:
            raise click.ClickException(f"参数应写作 key=value，收到“{item}”")
        key, value = item.split("=", 1)
        raw[key.strip()] = value.strip()
    return raw


@report.command("list")
def list_reports():
    """列出可用的报表和参数。"""
    for name, r in _load()[1].items():
        params = "，".join(f"{p.name}（{p.label}{'，必填' if p.required else ''}）" for p in r.params)
        click.echo(f"{name}\t{r.title}\t参数：{params or '无'}")


@report.command("run")
@click.argument("name")
@click.option("--param", "params", multiple=True, help="参数，写作 key=value，可重复")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="写入的 .xlsx 文件")
@user_option("以哪个用户的管辖范围统计")
@as_user
def run(name, params, out, user):
    """运行报表 NAME，写入 Excel。"""
    from reports import form_workbook
    report_engine, found = _load()
    if name not in found:
        raise click.ClickException(f"没有报表 {name}，可用：{', '.join(found) or '无'}")
    try:
        values, results = report_engine.run(engine(), user, found[name], _params(params))
    except report_engine.ReportError as e:
        raise click.ClickException(str(e)) from None
    form_workbook.write(out, found[name], report_engine.describe(found[name], values, engine()), results, user)
    for result in results:
        click.echo(f"{result.name}：{len(result.rows)} 行" + ("（无数据，只有表头）" if not result.rows else ""))
    click.echo(f"已写入 {out}")


COMMANDS = [report]
