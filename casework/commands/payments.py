"""payments: the monthly run, the bank list, the bank's return file, closing a month."""
import os

import click
from flask.cli import AppGroup

from casework.funds import bank_return, payments as api
from schema import clock

from . import as_user, echo_problems, engine, refusing, township, user_option

payments = AppGroup("payments", help="按月发放：生成发放台账、导出发放清单、导入银行回盘、关账。")


def month_command(name):
    """A payments command for one township and month, acting as --user, refusals said in Chinese."""
    def wrap(fn):
        fn = refusing(api.PaymentRefused)(as_user(fn))
        fn = user_option("以哪个用户的身份和管辖范围办理")(fn)
        fn = click.option("--month", required=True, help="发放年月，如 2026-05")(fn)
        fn = click.option("--township", "township_code", required=True, help="乡镇（街道）区划代码")(fn)
        return payments.command(name)(fn)
    return wrap


@month_command("run")
def run(township_code, month, user):
    """生成某乡镇某月的发放台账（可重复执行，不会重复生成）。"""
    r = api.run(engine(), user, township(township_code).id, month)
    click.echo(f"{r.township} {r.month}：新生成 {r.created} 笔，合计 {r.total:.2f} 元，暂缓 {r.held} 笔；此前已有 {r.existing} 笔。")


@click.option("--out", required=True, type=click.Path(dir_okay=False), help="写入的 .xlsx 文件")
@month_command("bank-list")
def bank_list(township_code, month, user, out):
    """导出给银行的发放清单（待发的笔）。"""
    count, total = api.export_bank_list(engine(), user, township(township_code), month, out, clock.today())
    click.echo(f"已写入 {out}：{count} 笔，合计 {total:.2f} 元。")


@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@month_command("bank-return")
def bank_return_file(township_code, month, user, path):
    """导入银行回盘；有任何问题都不作标记，逐行打印问题，退出码非0。"""
    with open(path, "rb") as fh:
        outcome = bank_return.apply(engine(), user, township(township_code).id, month, fh.read(),
                                    os.path.basename(path))
    echo_problems(outcome.problems, "发现 {n} 处问题，未作任何标记。")
    click.echo(f"已导入：成功 {outcome.paid} 笔，失败 {outcome.failed} 笔。")


@month_command("close")
def close(township_code, month, user):
    """关账：此后该乡镇该月的发放台账不能再改。"""
    where = township(township_code)
    api.close(engine(), user, where.id, month)
    click.echo(f"{where.name} {month} 已关账。")


COMMANDS = [payments]
