"""cards: the bank-card register (一户一卡)."""
import click
from flask.cli import AppGroup

from casework.funds import cards as api

from . import as_user, engine, user_option

cards = AppGroup("cards", help="银行卡登记：为只在家庭户上填了账号的家庭补登银行卡。")


@cards.command("backfill")
@click.option("--dry-run", is_flag=True, help="只统计，不写入")
@user_option("以哪个用户的身份和管辖范围补登（修改记录记在此人名下）")
@as_user
def backfill(dry_run, user):
    """家庭户上有银行账号、银行卡登记中却没有任何卡的家庭：按家庭户上的账号登记为在用卡。"""
    outcome = api.backfill(engine().models, user, dry_run=dry_run)
    for household, why in outcome.refused:
        click.echo(f"未补登 {household}：{why}")
    verb = "可补登" if dry_run else "已补登"
    click.echo(f"{verb} {outcome.created} 户的银行卡，{len(outcome.refused)} 户未补登" + ("（预演，未写入）" if dry_run else "。"))


COMMANDS = [cards]
