"""Printable documents declared in `reports/documents/*.yaml`: blocks of text with placeholders,
filled from one record, written as a .docx (the A4 web page renders the same filled blocks).

Blocks: {title: …}, {text: …}, {list: NAME}, {table: [[cell, …], …]}, {signature: [text, …]}.
A placeholder is {field}, {ref.field}, {township} {village} {county} {today} {user},
{reconsideration_body} (the authority an appeal goes to), {setting:key}, {missing_materials}
or {step:action|other.actor_name|at|opinion}. Unknown ones are refused when the file is loaded.
"""
import os
import re
from dataclasses import dataclass

import yaml
from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from schema import conditions, paths
from schema import yamlfile
from schema import SchemaError

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "documents")
TOKEN = re.compile(r"\{([\w.:|]+)\}")
SPECIAL = {"township", "village", "county", "today", "user", "reconsideration_body"}
LISTS = {"missing_materials"}
STEP_ATTRS = {"actor_name", "at", "opinion"}
BLOCKS = {"title", "text", "list", "table", "signature"}


@dataclass
class DocumentSpec:
    name: str
    label: str
    entity: str
    states: list
    blocks: list
    file: str = ""
    when: object = None         # a condition on the record (schema/conditions.py), e.g. a case's purpose

    def offered(self, record):
        state = record.__data__.get("state")
        return (record._spec.name == self.entity and (not self.states or state in self.states)
                and conditions.evaluate(self.when, record.__data__, lambda key: None))


def load(registry, folder=HERE):
    out = {}
    if not os.path.isdir(folder):
        return out
    actions = {t.name for wf in registry.workflows.values() for t in wf.transitions} | {"register"}
    for fname in sorted(f for f in os.listdir(folder) if f.endswith((".yaml", ".yml"))):
        rel = os.path.join("reports", "documents", fname)
        try:
            data = yamlfile.read(os.path.join(folder, fname))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise SchemaError(rel, f"文件无法读取：{e}") from None
        if not isinstance(data, dict) or not all(data.get(k) for k in ("name", "label", "entity", "blocks")):
            raise SchemaError(rel, "文书模板应有 name、label、entity、blocks")
        entity = registry.entities.get(data["entity"])
        if entity is None:
            raise SchemaError(rel, f"实体 {data['entity']} 不存在")
        state_options = registry.options.get("case_state")
        for state in data.get("states") or []:
            if state_options and state_options.code_of(state) is None:
                raise SchemaError(rel, f"状态 {state} 不在办理状态选项表中", entity.name)
        for i, block in enumerate(data["blocks"], 1):
            if not isinstance(block, dict) or len(block) != 1 or next(iter(block)) not in BLOCKS:
                raise SchemaError(rel, f"第{i}块应为 title、text、list、table、signature 之一", entity.name)
            kind, body = next(iter(block.items()))
            if kind == "list":
                if body not in LISTS:
                    raise SchemaError(rel, f"第{i}块：list 只能是 {', '.join(sorted(LISTS))}", entity.name)
                continue
            for text in _texts(body):
                for token in TOKEN.findall(str(text)):
                    _check_token(token, entity, registry, actions, rel, i)
        out[data["name"]] = DocumentSpec(name=data["name"], label=str(data["label"]), entity=entity.name,
                                         states=list(data.get("states") or []), blocks=data["blocks"], file=rel,
                                         when=conditions.build(data.get("when"), entity, registry, rel, "when"))
    return out


def _texts(body):
    if isinstance(body, list):
        for item in body:
            yield from _texts(item)
    else:
        yield "" if body is None else str(body)


def _check_token(token, entity, registry, actions, rel, i):
    if token in SPECIAL or token in LISTS:
        return
    if token.startswith("setting:"):
        if token[8:] not in registry.settings:
            raise SchemaError(rel, f"第{i}块的占位符 {{{token}}}：{token[8:]} 不是设置项", entity.name)
        return
    if token.startswith("step:"):
        names, _, attr = token[5:].rpartition(".")
        unknown = [a for a in names.split("|") if a not in actions]
        if attr not in STEP_ATTRS or unknown:
            raise SchemaError(rel, f"第{i}块的占位符 {{{token}}} 无效：操作名应为流程中的操作，"
                                   f"属性为 {', '.join(sorted(STEP_ATTRS))}", entity.name)
        return
    try:
        paths.hops(registry, entity, token)
    except paths.PathError as e:
        raise SchemaError(rel, f"第{i}块的占位符 {{{token}}}：{e.part} 不是{'引用' if e.not_a_ref else ''}字段",
                          entity.name, token) from None


def fill(spec, value, items):
    """Blocks with every placeholder replaced: value(token) → text; items(name) → [text]."""
    def sub(text):
        return TOKEN.sub(lambda m: value(m.group(1)), "" if text is None else str(text))
    out = []
    for block in spec.blocks:
        kind, body = next(iter(block.items()))
        if kind == "list":
            out.append(("list", items(body)))
        elif kind == "table":
            out.append(("table", [[sub(c) for c in row] for row in body]))
        elif kind == "signature":
            out.append(("signature", [sub(t) for t in body]))
        else:
            out.append((kind, sub(body)))
    return out


def to_docx(blocks, stream):
    doc = Document()
    section = doc.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = Cm(2.5)
    section.top_margin = section.bottom_margin = Cm(2.2)
    style = doc.styles["Normal"]
    style.font.name, style.font.size = "SimSun", Pt(12)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    for kind, body in blocks:
        if kind == "title":
            p = doc.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = p.add_run(body)
            run.bold, run.font.size = True, Pt(18)
        elif kind == "text":
            doc.add_paragraph(body).paragraph_format.first_line_indent = Pt(24) if not body.endswith("：") else None
        elif kind == "list":
            for n, item in enumerate(body, 1):
                doc.add_paragraph(f"{n}. {item}")
            if not body:
                doc.add_paragraph("（无）")
        elif kind == "table":
            cols = max(len(r) for r in body)
            table = doc.add_table(rows=len(body), cols=cols)
            table.style, table.alignment = "Table Grid", WD_TABLE_ALIGNMENT.CENTER
            for r, row in enumerate(body):
                for c, text in enumerate(row):
                    table.cell(r, c).text = text
            doc.add_paragraph()
        elif kind == "signature":
            for text in body:
                doc.add_paragraph(text).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    doc.save(stream)
