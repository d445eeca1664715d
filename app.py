"""Jiuzhu (救助台账): create_app() and the command line (`flask --app app …`).

    flask --app app init [--demo]        create tables; the demo county, or only the administrator
    flask --app app migrate [--dry-run]  print the migration plan, then apply it
    python app.py                        serve with waitress (office PCs)

The commands live in casework/commands/, one module per group.
"""
import os
import secrets
import sys

from flask import Flask

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DB = "sqlite:///" + os.path.join(HERE, "instance", "jiuzhu.db")


def _secret_key():
    """SECRET_KEY from the environment, else one generated once and kept in instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = os.path.join(HERE, "instance", "secret_key")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(secrets.token_hex(32))
        os.chmod(path, 0o600)
    with open(path) as fh:
        return fh.read().strip()


def _cli_command():
    """The flask CLI subcommand being run, if any (`run` and plain serving migrate on start)."""
    if os.path.basename(sys.argv[0]) not in ("flask", "flask.exe") and "flask" not in sys.argv[0:2]:
        return None
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    args = [a for i, a in enumerate(args) if not (i == 0 and a in ("app", "app.py", "app:create_app"))]
    return args[0] if args else None


def create_app(config=None):
    from admin_views import init_app
    from casework import commands
    from casework.engine import Engine
    from schema import SchemaError

    config = dict(config or {})
    app = Flask(__name__, instance_path=os.path.join(HERE, "instance"))
    app.config.update(
        DATABASE_URL=os.environ.get("DATABASE_URL", DEFAULT_DB),
        SCHEMA_DIR=os.environ.get("JIUZHU_SCHEMA_DIR") or None,
        MIGRATE_ON_START=_cli_command() in (None, "run"),
        SESSION_COOKIE_SECURE=os.environ.get("SESSION_COOKIE_SECURE") == "1",
        ATTACHMENT_DIR=os.environ.get("ATTACHMENT_DIR") or None,
        DATABASE_POOL=os.environ.get("DATABASE_POOL", "1") != "0",
    )
    app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key()
    try:
        kw = {"schema_dir": app.config["SCHEMA_DIR"]} if app.config["SCHEMA_DIR"] else {}
        # served apps keep PostgreSQL connections open between requests (DATABASE_POOL=0 turns it off)
        engine = Engine(app.config["DATABASE_URL"], pool=app.config.get("DATABASE_POOL", True), **kw)
        if app.config["MIGRATE_ON_START"]:
            for warning in engine.migrate().warnings:
                app.logger.warning("迁移提示：%s", warning)
    except SchemaError as e:
        raise SystemExit(f"救助台账无法启动：{e}") from None
    if os.environ.get("JIUZHU_BEHIND_PROXY") == "1" or app.config.get("BEHIND_PROXY"):
        # behind nginx: the client's address for the audit and https for Secure cookies come from the proxy
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
    init_app(app, engine)
    commands.register(app)
    return app


def serve():
    from waitress import serve as waitress_serve
    app = create_app()
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    from casework.core import backup
    backup.start_daily(app.extensions["jiuzhu"])
    print(f"救助台账已启动：http://{host}:{port}/  （按 Ctrl+C 停止）")
    waitress_serve(app, host=host, port=port, threads=int(os.environ.get("THREADS", "8")))


if __name__ == "__main__":
    serve()
