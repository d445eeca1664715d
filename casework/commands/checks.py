"""checks: the data checks (数据比对) and the death list."""
import os

import click
from flask.cli import AppGroup

from casework.cases import household_check
from casework.supervision import checks as api

from . import as_user, echo_problems, engine, user_option

checks = AppGroup("checks", help="数据比对：死亡、重复享受、干部职工近亲属、金额与测算不符。")


@checks.command("run")
@click.option("--kind", "kinds", multiple=True, help="只运行这几类（可重复）；不写则全部运行")
def run(kinds):
    """运行数据比对，新发现的写入“比对结果”，打印各类新发现数和待核实总数。"""
    labels = engine().registry.options["check_kind"].labels
    unknown = [k for k in kinds if k not in labels]
    if unknown:
        raise click.ClickException(f"没有比对类别 {'、'.join(unknown)}，可用：{', '.join(labels)}")
    Result = engine().models["check_result"]
    for kind, n in api.run(engine(), list(kinds) or None).items():
        waiting = Result.select().where(Result.kind == kind, Result.status == "open").count()
        click.echo(f"{labels[kind]}\t新发现 {n} 条\t待核实共 {waiting} 条")


@checks.command("deaths")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", help="数据来源，如 县公安局、殡葬管理所")
def deaths(path, source):
    """导入死亡人员名单（身份证号、姓名、死亡日期）并比对；有任何问题都不写入，逐行打印问题。"""
    with open(path, "rb") as fh:
        outcome = api.import_deaths(engine(), None, fh.read(), os.path.basename(path), source)
    echo_problems(outcome.problems, "发现 {n} 处问题，名单未导入。")
    click.echo(f"已导入 {outcome.added} 人（已有 {outcome.known} 人）；在保人员中发现 {outcome.found} 人，自次月起暂缓发放。")


@checks.command("departments")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--department", required=True, help="反馈部门：代码（01–18）或名称，如 07 或 自然资源部门")
@click.option("--dry-run", is_flag=True, help="只校验，不写入")
@user_option("以哪个用户的身份和管辖范围导入")
@as_user
def departments(path, department, dry_run, user):
    """导入一个部门反馈的家庭经济状况核对结果（事项编号、核对结果、核对情况、反馈日期）；
    有任何一行有问题都不写入，逐行打印问题。"""
    try:
        with open(path, "rb") as fh:
            outcome = household_check.import_department_results(engine(), user, department, fh.read(),
                                                                os.path.basename(path), dry_run=dry_run)
    except household_check.UnknownDepartment as e:
        raise click.ClickException(str(e)) from None
    for n in outcome.notices:
        click.echo(n)
    echo_problems(outcome.problems, "发现 {n} 处问题，核对结果未导入。")
    click.echo(f"校验通过：{outcome.rows} 行。（--dry-run：未写入）" if dry_run else
               f"已导入 {outcome.created} 条核对结果（批次 {outcome.batch}）。")


COMMANDS = [checks]
