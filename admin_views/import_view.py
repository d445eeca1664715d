"""The import screen: template download, upload with a checked preview, commit, history.

Checking and writing run in a background thread, so a large file never meets a request time-out;
the page polls a small JSON status. Job state lives in files under instance/imports/<job>/, which
every worker process on the machine can read.
"""
import json
import os
import shutil
import tempfile

from flask import abort, flash, jsonify, redirect, request, send_file, url_for
from flask_admin import expose

from casework.core import scope
from casework.core.imports import Importer, importable_fields, not_importable
from casework.core.sheet_layout import normal
from reports.template import write_errors, write_template

from . import auth
from .engine_view import EngineView
from .jobs import Jobs

MAX_SHOWN = 200
PREVIEW = 10


PREVIEW_COLUMNS = 60
CELL_CHARS = 100            # a cell or value shown in the status: the job status stays a few KB


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "…"


def _problem(p):
    return {"sheet": p.sheet, "row": p.row, "column": _cell(p.column), "value": _cell(p.value),
            "message": p.message[:500]}


class ImportView(EngineView):
    # -- access
    def entities(self):
        user = auth.current()
        found = [e for e in self.engine.registry.entities.values()
                 if not not_importable(self.engine.registry, e.name)
                 and scope.can(self.engine.models, user, e.name, "import")]
        # the household roster (an entity with a `head`) is what offices import most: it comes first
        return sorted(found, key=lambda e: not e.head)

    def is_accessible(self):
        return auth.current() is not None and bool(self.entities())

    def _entity(self, name):
        spec = self.engine.registry.entities.get(name)
        if spec is None or spec not in self.entities():
            abort(404)
        return spec

    # -- job files
    jobs = Jobs("IMPORT_DIR", "imports")

    def folder(self, job):
        return self.jobs.folder(job)

    def status(self, job):
        return self.jobs.status(job)

    def save_status(self, job, data):
        self.jobs.save(job, data)

    # -- pages
    @expose("/")
    def index(self):
        B = self.engine.system.ImportBatch
        user = auth.current()
        q = B.select().order_by(B.at.desc()).limit(30)
        if scope.role_of(self.engine.models, user).level != "county":
            q = q.where(B.user_id == user.id)
        saved = {e.name: sorted(self.mappings(e.name)) for e in self.entities()}
        return self.render("jiuzhu/import.html", entities=self.entities(), history=list(q), saved=saved)

    @expose("/template/<entity>.xlsx")
    def template(self, entity):
        spec = self._entity(entity)
        fd, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        write_template(self.engine.registry, spec.name, path)
        response = send_file(path, as_attachment=True, download_name=f"{spec.label}导入模板.xlsx")
        response.call_on_close(lambda: os.path.exists(path) and os.remove(path))
        return response

    @expose("/check", methods=("POST",))
    def check(self):
        spec = self._entity(request.form.get("entity", ""))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("请选择要导入的文件。", "error")
            return redirect(url_for(".index"))
        saved = request.form.get("saved_mapping", "")
        mapping = self.mappings(spec.name).get(saved) if saved else None
        # the upload goes to the job's folder in blocks, never whole into memory
        job = self._new_job(spec, upload.filename, request.form.get("mode") == "update", upload.save, mapping, saved)
        return redirect(url_for(".job", job=job))

    def _new_job(self, spec, filename, update, save, mapping, mapping_name=""):
        """save(path): writes the uploaded file to the job's folder."""
        state = {"entity": spec.name, "label": spec.label, "filename": filename, "update": update,
                 "phase": "check", "stage": "读取", "done": 0, "total": 0, "chosen": mapping,
                 "mapping_name": mapping_name}
        job = self.jobs.new(state)
        save(os.path.join(self.folder(job), "upload.bin"))
        self._start(job, state, dry_run=True)
        return job

    # -- column mappings: confirmed or changed by the user, saved by name for the next roster
    def _mapping_file(self, entity):
        root = os.path.dirname(self.folder("x"))
        return os.path.join(root, "mappings", f"{entity}.json")

    def mappings(self, entity):
        path = self._mapping_file(entity)
        if not os.path.exists(path):
            return {}
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)

    @expose("/job/<job>/remap", methods=("POST",))
    def remap(self, job):
        """Check the same upload again with the columns mapped as the user chose on the page."""
        state = self.status(job)
        spec = self._entity(state["entity"])
        path = os.path.join(self.folder(job), "upload.bin")
        if not state.get("finished") or state.get("committed") or not os.path.exists(path):
            flash("这个文件已经导入或还在校验，不能重新对应。", "error")
            return redirect(url_for(".job", job=job))
        chosen = {}
        for sheet_no, sheet in enumerate(state.get("mapping") or []):
            allowed = {f.name for f in importable_fields(self.engine.registry.entities[sheet["entity"]])}
            columns = {}
            for col in sheet["columns"]:
                value = request.form.get(f"map-{sheet_no}-{col['index']}", col["field"])
                columns[normal(col["header"])] = value if value in allowed else ""
            chosen[sheet["entity"]] = columns       # by table: a saved mapping fits next month's file too
        name = request.form.get("save_name", "").strip()[:40]
        if name:
            saved = self.mappings(spec.name)
            saved[name] = chosen
            os.makedirs(os.path.dirname(self._mapping_file(spec.name)), exist_ok=True)
            self.jobs.write_json(self._mapping_file(spec.name), saved)
            flash(f"已保存对应方案“{name}”，下次上传时可以直接选用。", "success")
        new = self._new_job(spec, state["filename"], state["update"], lambda target: shutil.copyfile(path, target),
                            chosen, name)
        return redirect(url_for(".job", job=new))

    @expose("/job/<job>")
    def job(self, job):
        state = self.status(job)
        page = max(1, request.args.get("page", 1, type=int))
        pages = max(1, -(-state.get("error_count", 0) // MAX_SHOWN))
        if page > 1:
            state["problems"] = self._problems(job, (page - 1) * MAX_SHOWN, MAX_SHOWN)
        fields = {m["entity"]: [(f.name, f.label) for f in importable_fields(self.engine.registry.entities[m["entity"]])]
                  for m in state.get("mapping") or []}
        return self.render("jiuzhu/import_job.html", state=state, page=min(page, pages), pages=pages, fields=fields)

    def _problems(self, job, start, count):
        """A page of the full problem list, read line by line from the job's file."""
        path = os.path.join(self.folder(job), "problems.jsonl")
        out = []
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                for i, line in enumerate(fh):
                    if i >= start + count:
                        break
                    if i >= start:
                        out.append(json.loads(line))
        return out

    @expose("/job/<job>/status")
    def job_status(self, job):
        return jsonify(self.status(job))

    @expose("/job/<job>/commit", methods=("POST",))
    def commit(self, job):
        state = self.status(job)
        if not state.get("finished") or not state.get("ok") or state.get("phase") != "check":
            flash("只有校验通过的文件才能导入。", "error")
            return redirect(url_for(".job", job=job))
        state.update(phase="commit", stage="写入", done=0, finished=False)
        self.save_status(job, state)
        self._start(job, state, dry_run=False)
        return redirect(url_for(".job", job=job))

    @expose("/job/<job>/restart", methods=("POST",))
    def restart(self, job):
        """A job whose process died: check the uploaded file again from the start (a commit that
        died wrote nothing: it was one transaction)."""
        state = self.jobs.restartable(job)
        if not os.path.exists(os.path.join(self.folder(job), "upload.bin")):
            flash("上传的文件已不在服务器上，请重新上传。", "error")
            return redirect(url_for(".index"))
        for key in ("interrupted", "message", "problems", "error_count", "ok", "preview", "process"):
            state.pop(key, None)
        state.update(phase="check", stage="读取", done=0, total=0, finished=False)
        self.save_status(job, state)
        self._start(job, state, dry_run=True)
        return redirect(url_for(".job", job=job))

    @expose("/job/<job>/errors.xlsx")
    def errors(self, job):
        state = self.status(job)
        path = os.path.join(self.folder(job), "errors.xlsx")
        if not os.path.exists(path):
            abort(404)
        stem = os.path.splitext(os.path.basename(state["filename"]))[0]
        return send_file(path, as_attachment=True, download_name=f"{state['label']}导入错误_{stem}.xlsx")

    # -- the background work
    def _start(self, job, state, dry_run):
        self.jobs.start(self._work, job, state, auth.current(), dry_run, auth.client_ip())

    def _work(self, app, job, state, user, dry_run, ip=None):
        from casework.core import system
        token = system.actor.set(system.acting(user, ip))
        with app.app_context():
            try:
                self.engine.db.connect(reuse_if_open=True)

                def progress(stage, done, total):
                    state.update(stage=stage, done=done, total=total)
                    self.save_status(job, state)

                outcome = Importer(self.engine, state["entity"], user, update=state["update"],
                                   mapping=state.get("chosen")).run(
                    os.path.join(self.folder(job), "upload.bin"), state["filename"], dry_run=dry_run,
                    progress=progress)
                if outcome.problems:
                    write_errors(outcome, os.path.join(self.folder(job), "errors.xlsx"))
                with open(os.path.join(self.folder(job), "problems.jsonl"), "w", encoding="utf-8") as fh:
                    for p in outcome.problems:
                        fh.write(json.dumps(_problem(p), ensure_ascii=False, default=str) + "\n")
                state["preview"] = [{"sheet": name, "header": [_cell(h) for h in header[:PREVIEW_COLUMNS]],
                                     "rows": [[str(n)] + [_cell(v) for v in r[:PREVIEW_COLUMNS]]
                                              for n, r in rows[:PREVIEW]],
                                     "count": len(rows)}
                                    for name, _spec, header, rows in outcome.sheets]
                state["mapping"] = [{"sheet": name, "entity": entity,
                                     "columns": [{"index": i, "header": _cell(h), "field": f} for i, h, f in cols]}
                                    for name, entity, cols in outcome.mapping]
                state.update(finished=True, ok=outcome.ok, rows=outcome.rows, created=outcome.created,
                             updated=outcome.updated, committed=outcome.committed, batch=outcome.batch,
                             error_count=len(outcome.problems), notices=outcome.notices[:20],
                             unchanged=outcome.unchanged,
                             problems=[_problem(p) for p in outcome.problems[:MAX_SHOWN]])
                if outcome.committed:
                    os.remove(os.path.join(self.folder(job), "upload.bin"))
            except Exception as e:          # the page must say what happened, never spin forever
                app.logger.exception("import failed")
                state.update(finished=True, ok=False, error_count=1,
                             problems=[{"sheet": "", "row": 0, "column": "", "value": "",
                                        "message": f"导入时发生意外错误，未写入任何数据：{e}"}])
            finally:
                self.save_status(job, state)
                system.actor.reset(token)
                if not self.engine.db.is_closed():
                    self.engine.db.close()
