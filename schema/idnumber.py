"""公民身份号码 (GB 11643-1999): check digit, birth date, sex.

The address code is frozen at issue and may be abolished since, so it is never checked against
the current division list (national-rules.md 4.1).
"""
import datetime as dt
import functools
import re
from . import clock

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
FULLWIDTH = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX")


class IdNumberError(ValueError):
    pass


def normalise(raw):
    """Strip spaces, turn full-width digits and a lower-case x into their plain forms."""
    if raw is None:
        return ""
    text = str(raw).translate(FULLWIDTH)
    text = re.sub(r"\s+", "", text).upper()
    return text


def check_digit(first17):
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS))
    return CHECK[total % 11]


def parse(raw):
    """Return (number, birth date, sex code '1'/'2', legacy flag) or raise IdNumberError."""
    return _parse(normalise(raw))


@functools.lru_cache(maxsize=8192)
def _parse(number):
    # one import checks each number three times (the cell, the sex, the birth date)
    if re.fullmatch(r"\d{17}[\dX]", number):
        birth_text = number[6:14]
        legacy = False
    elif re.fullmatch(r"\d{15}", number):
        birth_text = "19" + number[6:12]
        legacy = True
    else:
        raise IdNumberError("身份证号码应为18位（末位可为X）或15位旧号码")
    try:
        birth = dt.date(int(birth_text[:4]), int(birth_text[4:6]), int(birth_text[6:8]))
    except ValueError:
        raise IdNumberError(f"身份证号码中的出生日期 {birth_text} 不存在") from None
    if birth.year < 1890 or birth > clock.today():
        raise IdNumberError(f"身份证号码中的出生日期 {birth.isoformat()} 不合理")
    if not legacy and check_digit(number[:17]) != number[17]:
        raise IdNumberError("身份证号码校验位错误，请核对后重新输入")
    order = int(number[14:17] if not legacy else number[12:15])
    sex = "1" if order % 2 else "2"
    return number, birth, sex, legacy


def make(area6, birth, order):
    """Build a valid 18-digit number (demo data and tests)."""
    first17 = f"{area6}{birth:%Y%m%d}{order:03d}"
    return first17 + check_digit(first17)


def mask_public(number):
    """The form a public notice uses: 3704**********1234 (region prefix and last four only)."""
    n = str(number or "")
    if len(n) <= 8:
        return "*" * len(n)
    return n[:4] + "*" * (len(n) - 8) + n[-4:]


def mask(number):
    if not number:
        return ""
    n = str(number)
    if len(n) <= 8:
        return n[:1] + "*" * (len(n) - 1)
    return n[:6] + "*" * (len(n) - 10) + n[-4:]
