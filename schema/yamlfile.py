"""Reading the declaration files: libyaml's parser where it is installed (ten times faster than the
pure-Python one), and each file parsed once per process until it changes on disk — the report screen
and every Engine read the same few dozen files again and again."""
import copy
import os

import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_cache = {}


def read(path):
    """The file's content as plain data (a fresh copy: callers may change it). Raises yaml.YAMLError,
    UnicodeDecodeError and OSError as reading the file would."""
    stat = os.stat(path)
    key = os.path.abspath(path)
    stamp = (stat.st_mtime_ns, stat.st_size)
    hit = _cache.get(key)
    if hit is None or hit[0] != stamp:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=LOADER)  # noqa: S506 - a safe loader
        hit = _cache[key] = (stamp, data)
    return copy.deepcopy(hit[1])
