"""The effect registry is explicit: the schema loads with every workflow effect known without importing
casework.engine, and every effect a workflow names is provided."""
import os
import subprocess
import sys

from casework import registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_schema_loads_without_the_engine():
    script = ("import sys\nfrom casework import registry\nreg = registry.load()\n"
              "assert 'casework.engine' not in sys.modules, 'the engine was imported'\n"
              "print(sorted({e for wf in reg.workflows.values() for e in wf.effects.get('approved', [])}))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "issue_certificate" in done.stdout and "start_care" in done.stdout


def test_every_effect_a_workflow_names_is_provided():
    reg = registry.load()
    named = {e for wf in reg.workflows.values() for names in wf.effects.values() for e in names} | \
        {e for wf in reg.workflows.values() for t in wf.transitions for e in t.effects}
    assert named and named <= registry.effect_names()
    assert {"start_care", "adjust_care", "issue_certificate", "pay_from_reserve", "advance_from_reserve",
            "review_decided"} <= registry.effect_names()
