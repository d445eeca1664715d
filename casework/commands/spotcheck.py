"""spotcheck: the monthly random draw of new approvals (document 002)."""
import click
from flask.cli import AppGroup

from casework.supervision import spotcheck as api

from . import as_user, engine, refusing, user_option

spotcheck = AppGroup("spotcheck", help="随机抽查。")


@spotcheck.command("draw")
@click.option("--month", required=True, help="审批月份，如 2026-10")
@click.option("--seed", type=int, help="随机种子（给出同一个种子，抽出同一批）")
@click.option("--force", is_flag=True, help="已抽过的月份重新抽取（须县级管理员；前一次保留）")
@user_option("以哪个县级用户的身份抽取")
@as_user
@refusing(api.DrawRefused)
def draw(month, seed, force, user):
    """抽取某月各乡镇新批准事项的抽查样本，打印各乡镇的抽取数和比例。"""
    for d in api.draw(engine(), user, month, seed=seed, force=force):
        state = "新抽取" if d.new else "已抽取过，未改变（重抽请加 --force）"
        click.echo(f"{d.township}\t新批准 {d.population} 件\t抽取 {len(d.sample)} 件（{d.share:.0%}）\t"
                   f"种子 {d.seed}\t{state}\t{'、'.join(d.sample)}")


COMMANDS = [spotcheck]
