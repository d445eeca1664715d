"""Error pages: every refusal or failure is a Chinese page inside the normal layout with a way back.

Werkzeug's own pages are English and have no menu; a traceback must never reach a clerk. If the
layout itself cannot be drawn (the database is down, the menu fails), a bare Chinese page is sent."""
from flask import current_app, render_template_string, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

TITLES = {
    400: ("请求有误", "提交的内容不完整或格式不对，系统无法处理。请返回上一页检查后重新提交。"),
    401: ("请先登录", "这个页面需要登录后才能查看。"),
    403: ("没有权限", "您的角色或管辖区划不能查看或办理这项内容。如确需办理，请联系县级管理员。"),
    404: ("找不到这个页面或记录", "要找的页面或记录不存在，或者不在您的管辖范围内。"),
    405: ("操作方式不对", "这个地址不能这样打开，请从页面上的按钮或菜单进入。"),
    413: ("上传的文件太大", "上传的文件超过了大小上限，请分成几个文件再上传。"),
    500: ("系统出错了", "系统处理时出了错，这次操作没有完成。请返回上一页重试；如果一直出错，请把出错时间告诉县级管理员。"),
}
CSRF_TEXT = "页面已过期或安全校验未通过（可能是停留时间过长或在别的窗口退出了登录）。请返回上一页，刷新后重新提交。"
BUSY_TEXT = ("系统繁忙，请稍后再试，您填写的内容未丢失：数据库正忙（别人正在保存或办理），这次操作没有完成，"
             "也没有写入任何内容。请返回上一页，稍等几秒再提交一次。")

BARE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }} - 救助台账</title></head>
<body style="font-family:sans-serif;margin:2em"><h3>{{ title }}</h3><p>{{ text }}</p>
<p><a href="{{ back }}">返回上一页</a> · <a href="/admin/">回到首页</a></p></body></html>"""


def _back_url():
    """The page the user came from when it is ours, else the home page."""
    ref = request.referrer or ""
    if ref.startswith(request.host_url) and ref.rstrip("/") != request.url.rstrip("/"):
        return ref
    return "/admin/"


def _is_busy(exc):
    """SQLite's "database is locked" (two saves at once on an office PC)."""
    while exc is not None:
        if "database is locked" in str(exc) or "database is busy" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def page(code, text=None, admin=None):
    title, default = TITLES.get(code, TITLES[500] if code >= 500 else TITLES[400])
    args = {"code": code, "title": title, "text": text or default, "back": _back_url()}
    try:
        view = admin.index_view if admin is not None else None
        if view is None:
            raise LookupError("no admin")
        html = view.render("jiuzhu/error.html", **args)
    except Exception:  # the layout needs the database and the menu; the message must still get out
        current_app.logger.exception("error page layout failed")
        html = render_template_string(BARE, **args)
    return html, code


def init_app(app, admin):
    def http_error(e):
        if isinstance(e, CSRFError):
            return page(400, CSRF_TEXT, admin)
        text = None
        if e.code == 413:
            text = TITLES[413][1]
        elif e.description and _chinese(e.description):
            text = e.description           # our own abort(…, description="…") messages are kept
        return page(e.code or 500, text, admin)

    def server_error(e):
        original = getattr(e, "original_exception", None) or e
        if original is not e or not isinstance(e, HTTPException):
            current_app.logger.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
        return page(500, BUSY_TEXT if _is_busy(original) else None, admin)

    for code in TITLES:
        if code != 500:
            app.register_error_handler(code, http_error)
    app.register_error_handler(CSRFError, http_error)
    app.register_error_handler(500, server_error)


def _chinese(text):
    return any("\u4e00" <= ch <= "\u9fff" for ch in str(text))

