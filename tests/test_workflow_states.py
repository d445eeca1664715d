"""Workflows declare their states; a state marked `final: true` ends a case: the compiler refuses a
transition out of it (naming file, workflow and transition), and "is this case still open?" reads it."""
import shutil

import pytest

from casework.core import derive
from casework.engine import SCHEMA_DIR
from schema import SchemaError, load

REOPEN = """
  - name: reopen
    label: 重新审核
    from: approved
    to: reviewing
    roles: [county_admin]
"""


def schema_copy(tmp_path, edit):
    root = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = root / "workflows" / "dibao.yaml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return str(root)


def test_a_transition_out_of_a_final_state_is_refused(tmp_path):
    root = schema_copy(tmp_path, lambda text: text.replace("transitions:\n", "transitions:" + REOPEN, 1))
    with pytest.raises(SchemaError) as e:
        load(root, derive.names())
    message = str(e.value)
    assert "workflows/dibao.yaml" in message and "流程 dibao" in message and "操作 reopen" in message
    assert "不能从办结状态 approved（已批准）转出" in message


def test_a_step_that_only_records_may_stay_in_a_final_state(tmp_path):
    registry = load(SCHEMA_DIR, derive.names())
    dibao = registry.workflows["dibao"]
    assert dibao.transition("recompute").sources == ["approved"] and dibao.transition("recompute").target == ""
    assert dibao.closing_states() == {"approved", "denied", "withdrawn"}
    assert registry.workflows["referral"].closing_states() == {"closed", "withdrawn"}     # 已转介 is not the end
    assert registry.final_states("case") == ["approved", "closed", "denied", "withdrawn"]


def test_a_state_used_but_not_declared_is_refused(tmp_path):
    def drop_publicity(text):
        assert "states: [accepted, investigating, reviewing, publicity, " in text
        return text.replace("states: [accepted, investigating, reviewing, publicity, ",
                            "states: [accepted, investigating, reviewing, ", 1)
    with pytest.raises(SchemaError) as e:
        load(schema_copy(tmp_path, drop_publicity), derive.names())
    assert "workflows/dibao.yaml" in str(e.value) and "状态 publicity 不在 states 中" in str(e.value)


def test_without_states_the_closing_states_are_those_no_transition_leaves(tmp_path):
    def no_states(text):
        lines = [line for line in text.splitlines(keepends=True) if not line.startswith("states:")]
        return "".join(lines)
    registry = load(schema_copy(tmp_path, no_states), derive.names())
    assert registry.workflows["dibao"].states is None
    assert registry.workflows["dibao"].closing_states() == {"approved", "denied", "withdrawn"}
