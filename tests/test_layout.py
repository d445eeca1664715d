"""The rooms of casework/ depend one way: supervision → cases → funds → core → schema."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = ["schema", "casework.core", "casework.funds", "casework.cases", "casework.supervision"]


def _imports(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):                     # lazy imports inside functions count too
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def _layer(module):
    found = [i for i, prefix in enumerate(ORDER) if module == prefix or module.startswith(prefix + ".")]
    return found[-1] if found else None


@pytest.mark.parametrize("layer", ORDER)
def test_no_room_imports_a_room_above_it(layer):
    here = os.path.join(ROOT, *layer.split("."))
    wrong = []
    for folder, _dirs, files in os.walk(here):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                for module in _imports(path):
                    above = _layer(module)
                    if above is not None and above > ORDER.index(layer):
                        wrong.append(f"{os.path.relpath(path, ROOT)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_serial_numbers_continue_after_the_highest_even_past_their_width(engine):
    import peewee as pw
    from casework.core import numbering

    class Numbered(pw.Model):
        number = pw.CharField(unique=True)

        class Meta:
            database = engine.db
            table_name = "test_numbered"
    Numbered.create_table()
    try:
        assert numbering.next_number(Numbered.number, "XF-20261201-", 3) == "XF-20261201-001"
        for n in ("XF-20261201-998", "XF-20261201-999", "XF-20261201-1000", "XF-20261202-005"):
            Numbered.create(number=n)
        assert numbering.next_number(Numbered.number, "XF-20261201-", 3) == "XF-20261201-1001"
        assert numbering.next_number(Numbered.number, "XF-20261202-", 3) == "XF-20261202-006"
    finally:
        Numbered.drop_table()


def test_schema_modules_import_each_other_without_a_cycle():
    """errors.py holds the exceptions so specs, conditions and models need not import each other."""
    here = os.path.join(ROOT, "schema")
    graph = {}
    for name in os.listdir(here):
        if name.endswith(".py") and name != "__init__.py":
            tree = ast.parse(open(os.path.join(here, name), encoding="utf-8").read())
            deps = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    if node.level == 1 and node.module:
                        deps.add(node.module.split(".")[0])
                    elif node.level == 1:
                        deps.update(a.name for a in node.names)
                    elif node.module and node.module.startswith("schema."):
                        deps.add(node.module.split(".")[1])
                    elif node.module == "schema":
                        deps.update(a.name for a in node.names)
            graph[name[:-3]] = {d for d in deps if os.path.exists(os.path.join(here, d + ".py"))}

    def reach(start, node, seen):
        for nxt in graph.get(node, ()):
            if nxt == start:
                return True
            if nxt not in seen:
                seen.add(nxt)
                if reach(start, nxt, seen):
                    return True
        return False
    cyclic = sorted(m for m in graph if reach(m, m, set()))
    assert not cyclic, f"schema modules in an import cycle: {cyclic}"
