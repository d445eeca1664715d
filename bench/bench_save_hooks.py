"""Save hooks benchmark: how many hook functions one save calls, and the time of a save, per entity.

    .venv/bin/python bench/bench_save_hooks.py [--saves 2000] [--root DIR]

`--root` runs the same measurement against another checkout (e.g. /work/main, before per-entity
events) so the two can be compared on one machine. SQLite in a temporary folder; each save is an
update of one field (a household's phone, a member's phone, an area's name) as the system user, so
the audit row and the derivations are written as in a form. Prints calls per save and ms per save.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("--saves", type=int, default=2000)
parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
args = parser.parse_args()
sys.path.insert(0, os.path.abspath(args.root))

from casework.engine import Engine  # noqa: E402
from casework.core import system  # noqa: E402


def calls_per_save(hooks, entity):
    """The hook functions a save of `entity` calls (every registered one where hooks have no plan)."""
    if hasattr(hooks, "plan"):
        return len(hooks.plan("before", entity)), len(hooks.plan("after", entity))
    return len(hooks.before), len(hooks.after)


def main():
    folder = tempfile.mkdtemp(prefix="bench_hooks_")
    engine = Engine(f"sqlite:///{folder}/bench.db")
    engine.migrate()
    m = engine.models
    token = system.actor.set((None, "bench", None))
    county = m["area"].create(code="370405", name="台儿庄区", level="county")
    town = m["area"].create(code="370405001", name="运河街道", level="township", parent=county)
    village = m["area"].create(code="370405001001", name="村一", level="village", parent=town)
    household = m["household"].create(code="H1", village=village, head_name="张三",
                                      head_id_number="11010519491231002X", hukou_type="2")
    member = m["member"].get_or_none(m["member"].household == household.id) or m["member"].create(
        household=household, name="张三", id_number="11010519491231002X", relation="02")
    rows = {"household": household, "member": member, "area": village}
    print(f"code: {os.path.abspath(args.root)}  saves per entity: {args.saves}")
    print(f"{'entity':<10} {'before':>6} {'after':>6} {'ms/save (median of 5 runs)':>28}")
    for name, row in rows.items():
        field = "name" if name == "area" else "phone"
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for i in range(args.saves // 5):
                setattr(row, field, f"村一{i}" if name == "area" else f"139{i:08d}")
                row.save()
            runs.append((time.perf_counter() - start) * 1000 / (args.saves // 5))
        before, after = calls_per_save(m.hooks, name)
        print(f"{name:<10} {before:>6} {after:>6} {statistics.median(runs):>28.3f}")
    system.actor.reset(token)
    engine.db.close()


if __name__ == "__main__":
    main()
