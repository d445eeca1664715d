"""Background jobs whose state lives in a folder (status.json): any worker process can answer the
page that polls it, and a job belongs to the user who started it."""
import json
import os
import tempfile
import threading
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
        return data

    def save(self, job, data):
        self.write_json(os.path.join(self.folder(job), "status.json"), data)

    @staticmethod
    def write_json(path, data):
        """Written aside and renamed: a reader in another process never sees half a file."""
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, default=str)
        os.replace(tmp, path)

    @staticmethod
    def start(target, *args):
        """Run target(app, *args) in a thread; under TESTING wait for it (tests read the result next)."""
        app = current_app._get_current_object()
        thread = threading.Thread(target=target, args=(app,) + args, daemon=True)
        thread.start()
        if app.config.get("TESTING"):
            thread.join()
