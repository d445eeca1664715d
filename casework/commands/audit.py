"""audit: verifying the hash chains of the change log and the security log."""
import click
from flask.cli import AppGroup

from . import engine

audit = AppGroup("audit", help="修改记录与安全审计记录的校验。")


@audit.command("verify")
def verify():
    """检查修改记录和安全审计记录的校验链；有被改动或删除的记录时列出并以退出码 1 结束。"""
    problems = engine().security_log.verify()
    for log, row_id, problem in problems:
        click.echo(f"{log} 第 {row_id} 条：{problem}")
    if problems:
        raise SystemExit(1)
    click.echo("校验通过：修改记录和安全审计记录都没有被改动或删除。")


COMMANDS = [audit]
