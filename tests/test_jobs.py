"""Background jobs survive a restart: a job whose process died is shown as failed with the reason
(not "running" forever) and can be started again; a job still beating in another process is not."""
import json
import os
import time

from admin_views import jobs

from .test_imports import household, template_headers, workbook, pid


def job_folder(app, config_key, default, job):
    root = app.config.get(config_key) or os.path.join(app.instance_path, default)
    return os.path.join(root, job)


def pretend(folder, process, beat_age):
    """Rewrite a finished job as one still running in `process`, last heard of beat_age s ago."""
    path = os.path.join(folder, "status.json")
    with open(path, encoding="utf-8") as fh:
        state = json.load(fh)
    for key in ("ok", "problems", "error_count", "preview", "committed", "sheets", "described"):
        state.pop(key, None)
    state.update(finished=False, process=process, stage="写入", done=10, total=40)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(state, fh, ensure_ascii=False)
    beat = os.path.join(folder, "heartbeat")
    then = time.time() - beat_age
    os.utime(beat, (then, then))


def test_an_import_whose_process_died_is_failed_and_can_be_checked_again(app, browser_for):
    b = browser_for("town1")
    headers = template_headers(b)
    data = workbook(headers, [household("JOB-0001", pid(1971, 11))], [])
    r = b.post("/admin/imports/check", data={"entity": "household", "mode": "create",
                                             "file": (__import__("io").BytesIO(data), "户.xlsx")},
               content_type="multipart/form-data")
    job = r.headers["Location"].rstrip("/").split("/")[-1]
    folder = job_folder(app, "IMPORT_DIR", "imports", job)
    # still beating in another worker: running, not failed
    pretend(folder, "another-worker", beat_age=1)
    assert b.get(f"/admin/imports/job/{job}/status").get_json()["finished"] is False
    # silent past job_stale_seconds (the server was restarted): failed, with the reason
    pretend(folder, "another-worker", beat_age=600)
    status = b.get(f"/admin/imports/job/{job}/status").get_json()
    assert status["finished"] is True and status["ok"] is False and status["interrupted"] is True
    page = b.get(f"/admin/imports/job/{job}").get_data(as_text=True)
    assert "运行它的程序已停止" in page and "没有写入任何数据" in page and "重新开始" in page
    assert browser_for("town2").post(f"/admin/imports/job/{job}/restart").status_code == 404
    r = b.post(f"/admin/imports/job/{job}/restart")
    assert r.status_code == 302
    status = b.get(f"/admin/imports/job/{job}/status").get_json()
    assert status["finished"] and status["ok"] and not status.get("interrupted") and status["phase"] == "check"
    r = b.post(f"/admin/imports/job/{job}/commit")
    assert b.get(f"/admin/imports/job/{job}/status").get_json()["created"] == 2      # the household and its head as its member
    # a finished job cannot be "restarted"
    assert b.post(f"/admin/imports/job/{job}/restart").status_code == 404


def test_a_job_whose_thread_is_gone_in_this_process_fails_at_once(app, browser_for):
    b = browser_for("town1")
    r = b.post("/admin/reports/start", {"report": "dibao_monthly", "month": "2026-10"})
    job = r.headers["Location"].rstrip("/").split("/")[-1]
    folder = job_folder(app, "REPORT_DIR", "report_jobs", job)
    pretend(folder, jobs.PROCESS, beat_age=0)       # beat is fresh, but no thread runs it here
    page = b.get(f"/admin/reports/job/{job}").get_data(as_text=True)
    assert "运行它的程序已停止" in page and "重新生成" in page
    r = b.post(f"/admin/reports/job/{job}/restart")
    assert r.status_code == 302 and job not in r.headers["Location"]
    again = b.get(r.headers["Location"] + "/status").get_json()
    assert again == {"done": 5, "total": 5, "finished": True, "ok": True}
