"""settings: the settings in force and the named profiles."""
import click
from flask.cli import AppGroup

from . import engine

settings = AppGroup("settings", help="系统设置。")


@settings.command("list")
def list_settings():
    """列出所有设置项的当前值。"""
    for key, spec in engine().registry.settings.items():
        click.echo(f"{key}\t{engine().settings.get(key)}\t{spec.label}")


@settings.command("profile")
@click.argument("name")
def profile(name):
    """切换到一组设置方案，如 national（全国通行规定）或 taierzhuang（台儿庄区规程）。"""
    profiles = engine().registry.profiles
    if name not in profiles:
        raise click.ClickException(f"没有设置方案 {name}，可用：{', '.join(profiles)}")
    engine().settings.apply_profile(name, by="命令行")
    click.echo(f"已切换为“{profiles[name].label}”，未办结事项的期限已重算。")


COMMANDS = [settings]
