"""cases: the overdue list and recomputed deadlines."""
import click
from flask.cli import AppGroup

from schema import clock

from . import engine

cases = AppGroup("cases", help="救助事项：逾期清单、重算期限。")


@cases.command("overdue")
@click.option("--township", "township_code", help="只列出这个乡镇（街道）的事项（区划代码）")
def overdue(township_code):
    """打印已逾期的救助事项（按到期日排序）；有逾期事项时退出码为 1，便于定时任务报警。"""
    flow, labels = engine().flow, engine().registry.options["case_state"].labels
    rows = flow.rows(flow.overdue_everywhere(), limit=None, township_code=township_code)
    for r in rows:
        click.echo(f"{r['case_no']}\t{r['township']}\t{r['village']}\t{r['applicant_name']}\t"
                   f"{labels.get(r['state'], r['state'])}\t{r['due_item']}\t到期 {r['due_date']}\t"
                   f"逾期 {(clock.today() - r['due_date']).days} 天")
    click.echo(f"共 {len(rows)} 件逾期。")
    if rows:
        raise SystemExit(1)


@cases.command("refresh-deadlines")
def refresh_deadlines():
    """录入节假日或修改期限设置后，重算所有未办结事项的期限。"""
    click.echo(f"已重算，{engine().flow.refresh_all()} 件事项的期限有变化。")


COMMANDS = [cases]
