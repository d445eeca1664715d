"""How a roster sheet is laid out as offices really keep it: title and unit rows above the header, a
header over two rows under merged group cells, household cells merged down over their members,
合计 and 制表人 rows at the foot, hidden rows. Finds the header and says which rows are not data."""
import re

HEADER_SCAN = 12                 # rows searched for the header (titles, unit and date lines come first)
TOTAL_WORDS = ("合计", "总计", "小计", "共计")
FOOTER_WORDS = ("制表", "填表", "审核人", "审批人", "负责人", "签字", "签名", "盖章", "经办人", "填报人", "填报日期",
                "报送日期", "制表日期")
SPACES = re.compile(r"\s+")
SUFFIX = re.compile(r"[（(][^（）()]*[）)]$")


def normal(raw):
    """A header as compared: no spaces or line breaks, no required mark, full-width brackets."""
    text = SPACES.sub("", str(raw if raw is not None else "")).replace("\u3000", "")
    return text.replace("(", "（").replace(")", "）").rstrip("*＊")


def candidates(raw):
    """The header, then without a unit in brackets ("月保障金（元）" → "月保障金")."""
    text = normal(raw)
    out = [text]
    bare = SUFFIX.sub("", text)
    if bare and bare != text:
        out.append(bare)
    return out


def lookup(raw, names):
    for text in candidates(raw):
        if text in names:
            return names[text], text
    return None, normal(raw)


def fill_merged(sheet):
    """Each merged range's value copied into every cell it covers: a household's cells merged down
    over its member rows belong to each of those rows."""
    rows = sheet.rows
    if not isinstance(rows, list):
        return              # rows read at each pass fill merged cells as they are read (tabular.BookRows)
    for (r1, c1), (r2, c2) in sheet.merged_ranges:
        if r1 >= len(rows):
            continue
        value = rows[r1][c1] if c1 < len(rows[r1]) else ""
        for r in range(r1, min(r2, len(rows) - 1) + 1):
            row = rows[r]
            if len(row) <= c2:
                row.extend([""] * (c2 + 1 - len(row)))
            for c in range(c1, c2 + 1):
                if r != r1 or c != c1:
                    row[c] = value


def find_header(sheet, names):
    """(first header row, last header row, header cells) by 0-based index, or None. The header is
    the row among the first rows that names the most known columns; the row below belongs to it
    when merged cells span the two (a group label over its sub-headers)."""
    rows = sheet.rows
    best, best_score = None, 0
    for i, row in enumerate(rows[:HEADER_SCAN]):
        score = sum(1 for c in row if lookup(c, names)[0] is not None)
        if score > best_score:
            best, best_score = i, score
    if best is None:
        return None
    if best and any(r1 == best - 1 and r2 >= best for (r1, _), (r2, _) in sheet.merged_ranges):
        best -= 1           # the sub-headers scored most; the group row above them starts the header
    spans = [(r1, c1, r2, c2) for (r1, c1), (r2, c2) in sheet.merged_ranges
             if r1 == best and (r2 > best or c2 > c1)]
    header = list(rows[best])
    last = best
    if spans and best + 1 < len(rows):
        below = rows[best + 1]
        covered = {c for r1, c1, r2, c2 in spans for c in range(c1, c2 + 1)}
        if any(lookup(below[c], names)[0] is not None for c in covered if c < len(below)):
            last = best + 1
            for c, cell in enumerate(below):
                if c >= len(header):
                    header.append(cell)
                elif normal(cell):
                    header[c] = cell        # a sub-header under its group label
    return best, last, header


def skip_reason(row):
    """Why a row below the header is not data: a total line or a signature footer; else None."""
    texts = []
    for c in row:               # the first five texts are all the rules below look at
        text = normal(c) if c not in (None, "") else ""
        if text:
            texts.append(text)
            if len(texts) > 4:
                break
    if not texts:
        return None
    if any(t.startswith(TOTAL_WORDS) for t in texts[:3]):
        return "合计行"
    if len(texts) <= 4 and any(w in t for t in texts for w in FOOTER_WORDS):
        return "表尾（制表人、日期等）"
    return None
