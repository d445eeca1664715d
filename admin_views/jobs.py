"""Background jobs whose state lives in a folder (status.json): any worker process can answer the
page that polls it, and a job belongs to the user who started it.

A job whose process died (a restart, a closed office PC) stops beating: its `heartbeat` file is
touched every `job_heartbeat_seconds` while it runs, so any process reading the status of a job
silent for `job_stale_seconds` reports it failed, with the reason, and the page offers to start it
again. Files, not PIDs: PIDs are reused after a restart (and cannot be probed on Windows).
"""
import json
import os
import tempfile
import threading
import time
import uuid

from flask import abort, current_app

from . import auth


class Jobs:
    def __init__(self, config_key, default_folder):
        self.config_key, self.default_folder = config_key, default_folder

    def folder(self, job):
        if not job.isalnum():
            abort(404)
        root = current_app.config.get(self.config_key) or os.path.join(current_app.instance_path,
                                                                        self.default_folder)
        return os.path.join(root, job)

    def new(self, state):
        job = uuid.uuid4().hex[:16]
        os.makedirs(self.folder(job))
        state.update(job=job, user_id=auth.current().id, finished=False)
        self.save(job, state)
        return job

    def status(self, job):
        path = os.path.join(self.folder(job), "status.json")
        if not os.path.exists(path):
            abort(404)
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("user_id") != auth.current().id:
            abort(404)                       # one user's job is nobody else's business
        if not data.get("finished") and self._died(job, data):
            data.update(finished=True, ok=False, interrupted=True, message=INTERRUPTED, error_count=1,
                        problems=[{"sheet": "", "row": 0, "column": "", "value": "", "message": INTERRUPTED}])
            self.save(job, data)
        return data

    def _died(self, job, data):
        if data.get("process") == PROCESS:
            return job not in RUNNING          # this process started it and its thread is gone
        stale = _setting("job_stale_seconds")
        try:
            silent = time.time() - os.path.getmtime(os.path.join(self.folder(job), "heartbeat"))
        except OSError:
            return "process" in data           # started, but never beat
        return silent > stale

    def save(self, job, data):
        self.write_json(os.path.join(self.folder(job), "status.json"), data)

    @staticmethod
    def write_json(path, data):
        """Written aside and renamed: a reader in another process never sees half a file."""
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, default=str)
        os.replace(tmp, path)

    def start(self, target, job, state, *args):
        """Run target(app, job, state, *args) in a thread that beats while it runs; under TESTING
        wait for it (tests read the result next)."""
        app = current_app._get_current_object()
        beat_file = os.path.join(self.folder(job), "heartbeat")
        every = _setting("job_heartbeat_seconds")
        RUNNING.add(job)
        state["process"] = PROCESS
        self.save(job, state)
        _touch(beat_file)
        done = threading.Event()

        def run():
            try:
                target(app, job, state, *args)
            finally:
                RUNNING.discard(job)
                done.set()

        def beat():
            while not done.wait(every):
                _touch(beat_file)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threading.Thread(target=beat, daemon=True).start()
        if app.config.get("TESTING"):
            thread.join()

    def restartable(self, job):
        """The state of a job that died, for starting it again; 404 for any other job."""
        state = self.status(job)
        if not state.get("interrupted"):
            abort(404)
        return state


INTERRUPTED = "后台任务没有完成：运行它的程序已停止（例如服务重启或电脑关机）。没有写入任何数据，可以重新开始。"
PROCESS = uuid.uuid4().hex          # this process, as named in the jobs it starts
RUNNING = set()                     # jobs whose thread runs in this process


def _setting(key):
    return current_app.extensions["jiuzhu"].settings.get(key)


def _touch(path):
    with open(path, "a"):
        os.utime(path, None)
