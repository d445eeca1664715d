"""GB 11643 check digit, legacy numbers, and what the member rules derive from the number."""
import datetime as dt

import pytest

from schema import idnumber
from schema import RecordInvalid


@pytest.mark.parametrize("number", ["11010519491231002X", "370481195803121233", "41900119650707004X",
                                    "511526199002153450", "130321201001010066"])
def test_valid_numbers(number):
    parsed = idnumber.parse(number)
    assert parsed[0] == number and parsed[3] is False


def test_check_digit_error_is_refused_in_chinese():
    with pytest.raises(idnumber.IdNumberError, match="校验位"):
        idnumber.parse("370481195803121234")


def test_lowercase_x_fullwidth_digits_and_spaces_are_normalised():
    assert idnumber.parse(" 11010519491231002x ")[0] == "11010519491231002X"
    assert idnumber.parse("３７０４８１１９５８０３１２１２３３")[0] == "370481195803121233"


def test_impossible_birth_date_is_refused():
    first17 = "37048119580231123"
    with pytest.raises(idnumber.IdNumberError, match="出生日期"):
        idnumber.parse(first17 + idnumber.check_digit(first17))


def test_legacy_15_digit_number_is_accepted_and_flagged():
    number, birth, sex, legacy = idnumber.parse("370481580312123")
    assert legacy and birth == dt.date(1958, 3, 12) and sex == "1"


@pytest.mark.parametrize("bad", ["", "123", "37048119580312123A", "3704811958031212333"])
def test_wrong_shapes(bad):
    with pytest.raises(idnumber.IdNumberError):
        idnumber.parse(bad)


def test_mask_keeps_region_and_last_four():
    assert idnumber.mask("370481195803121233") == "370481********1233"


def _household(engine):
    A, H = engine.models["area"], engine.models["household"]
    c = A.create(code="370405", name="台儿庄区", level="county")
    t = A.create(code="370405001", name="运河街道", level="township", parent=c)
    v = A.create(code="370405001001", name="中心社区", level="village", parent=t)
    return H.create(code="H1", village=v, head_name="张三", head_id_number="370481195803121233", hukou_type="1")


def test_member_sex_and_birth_are_derived_and_contradictions_refused(engine):
    M = engine.models["member"]
    h = _household(engine)
    m = M.create(household=h, name="张三", id_number="370481195803121233", relation="02")
    assert (m.sex, m.birth_date, m.id_legacy) == ("1", dt.date(1958, 3, 12), False)
    with pytest.raises(RecordInvalid) as err:
        M.create(household=h, name="李四", id_number="41900119650707004X", relation="10", sex="1")
    assert "性别与身份证号码不符" in str(err.value)
    with pytest.raises(RecordInvalid) as err:
        M.create(household=h, name="李四", id_number="41900119650707004X", relation="10",
                 birth_date=dt.date(1965, 7, 8))
    assert "出生日期与身份证号码不符" in str(err.value)
    assert M.select().count() == 1
    legacy = M.create(household=h, name="王五", id_number="370481580312124", relation="20")
    assert legacy.id_legacy is True and legacy.sex == "2"


def test_household_member_count_and_income_are_derived(engine):
    M, H = engine.models["member"], engine.models["household"]
    h = _household(engine)
    M.create(household=h, name="张三", id_number="370481195803121233", relation="02", monthly_income=300)
    a = M.create(household=h, name="李四", id_number="41900119650707004X", relation="10", monthly_income=101)
    fresh = H.get_by_id(h.id)
    assert fresh.member_count == 2 and str(fresh.income_per_capita) == "200.50"
    a.delete_instance()          # archived, not deleted
    fresh = H.get_by_id(h.id)
    assert fresh.member_count == 1 and str(fresh.income_per_capita) == "300.00"
    assert M.get_by_id(a.id).archived is True


def test_one_person_one_household(engine):
    M, H = engine.models["member"], engine.models["household"]
    h = _household(engine)
    other = H.create(code="H2", village=h.village, head_name="李四", head_id_number="41900119650707004X",
                     hukou_type="2")
    first = M.create(household=h, name="张三", id_number="370481195803121233", relation="02")
    with pytest.raises(Exception):
        with engine.db.atomic():
            M.create(household=other, name="张三", id_number="370481195803121233", relation="02")
    assert M.select().count() == 1
    with pytest.raises(Exception, match="请先在家庭户中更换户主"):
        first.delete_instance()  # the head cannot leave the household they head
    h.delete_instance()          # the household archived, its head may leave it
    first.delete_instance()      # leaving the first household frees the number
    M.create(household=other, name="张三", id_number="370481195803121233", relation="02")
