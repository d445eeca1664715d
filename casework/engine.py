"""Wires the schema engine to the domain rules: one Engine per database."""
import os

import schema

from casework import registry
from casework.core import accounts, derive, heads, passwords, ref_areas, scope, security_log, system, writes
from casework.cases import reviews, workflow
from casework.funds import care, cards, certificates, reserve
from casework.supervision import checks, complaints, credit, findings, village_reports

SCHEMA_DIR = schema.HERE


class Engine:
    def __init__(self, database_url, schema_dir=SCHEMA_DIR, pool=False):
        self.registry = registry.load(schema_dir)
        self.db = schema.make_database(database_url, pool=pool)
        self.models = schema.ModelSet(self.registry, self.db)
        derive.install(self.models)
        passwords.install(self.models)      # before any rule reads a record: the hash replaces the typed text
        scope.install_user_rules(self.models)
        ref_areas.install(self.models)      # after derive: a derived area (bank_card.village) is set by then
        writes.install(self.models)         # immutable_after and writers, before the rules of each entity
        self.system = system.Tables(self.db)
        system.install_audit(self.models, self.system)
        self.settings = system.Settings(self.registry, self.system)
        self.security_log = security_log.Log(self.db, self.system)
        self.accounts = accounts.Accounts(self.db, self.settings)
        accounts.install(self.models, self.accounts, self.security_log)
        self.models.settings = self.settings     # rules that read a policy number (derive.self_care)
        self.flow = workflow.Flow(self)
        self.flow.install()
        care.install(self.models)
        cards.install(self.models)
        certificates.install(self.models)
        reserve.install(self.models)
        complaints.install(self)
        findings.install(self.models)
        reviews.install(self.models)
        village_reports.install(self.models)
        checks.install(self.models)
        heads.install(self.models)
        credit.install(self.models)
        self.settings.on_change = [self.flow.refresh_all, lambda: reviews.reschedule_all(self.models)]
        self.database_url = database_url

    def plan(self):
        return schema.plan(self.models)

    def migrate(self):
        """Bring the database up to the declarations; system tables too."""
        url = self.database_url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            os.makedirs(os.path.dirname(os.path.abspath(url[len("sqlite:///"):])), exist_ok=True)
        result = schema.apply(self.models)
        self.system.create()
        self.security_log.create()
        self.accounts.create()
        derive.backfill(self.models)
        reviews.backfill(self.models)
        if hasattr(self.db, "close_all"):
            # a server that forks workers after this (gunicorn --preload) must not share these
            self.db.close_all()
        return result
