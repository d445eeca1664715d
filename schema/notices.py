"""Compile `notices.yaml`: what a public notice (公示) shows, per entity. Pure, like the loader.

Only declared columns are published. ID and bank numbers are always masked; a column whose field is
declared `sensitive` and is not an ID number is refused, so income or health details cannot be
published by mistake."""
import os
from dataclasses import dataclass

from .errors import SchemaError

MASKED = {"id_card", "bank_account"}


@dataclass
class Notice:
    name: str
    label: str
    entity: str
    village: str          # path to the village area field
    start: str
    end: str
    columns: list         # [(path, label)]
    footer: str = ""
    file: str = ""


def load_notices(root, registry, read, resolve):
    path = os.path.join(root, "notices.yaml")
    rel = os.path.join(os.path.basename(root.rstrip("/")), "notices.yaml")
    if not os.path.exists(path):
        return {}
    out = {}
    for i, raw in enumerate(read(path, rel).get("notices") or [], 1):
        if not isinstance(raw, dict) or not all(raw.get(k) for k in ("name", "label", "entity", "village",
                                                                      "start", "end", "columns")):
            raise SchemaError(rel, f"第{i}个公示应有 name、label、entity、village、start、end、columns")
        entity = registry.entities.get(raw["entity"])
        if entity is None:
            raise SchemaError(rel, f"公示 {raw['name']} 的实体 {raw['entity']} 不存在")
        if resolve(registry, entity, raw["village"], "village").type != "area":
            raise SchemaError(rel, f"公示 {raw['name']} 的 village 应指向区划字段", entity.name)
        for key in ("start", "end"):
            if resolve(registry, entity, raw[key], key).type != "date":
                raise SchemaError(rel, f"公示 {raw['name']} 的 {key} 应为日期字段", entity.name, raw[key])
        columns = []
        for col in raw["columns"]:
            f = resolve(registry, entity, col.get("path", ""), "columns")
            if f.sensitive and f.type not in MASKED:
                raise SchemaError(rel, f"公示 {raw['name']} 不能公开敏感字段 {col['path']}", entity.name, col["path"])
            columns.append((col["path"], str(col.get("label") or f.label)))
        out[raw["name"]] = Notice(name=raw["name"], label=str(raw["label"]), entity=entity.name,
                                  village=raw["village"], start=raw["start"], end=raw["end"], columns=columns,
                                  footer=str(raw.get("footer") or ""), file=rel)
    return out
