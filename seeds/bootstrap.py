"""First run: the administrator only, or the deterministic demo county. Both are idempotent."""
import datetime as dt
import random

from schema import clock, idnumber
from casework.core import system

from .demo_cases import demo_cases
from .demo_complaints import demo_complaints
from .demo_credit import demo_credit
from .demo_household_check import demo_household_check
from .demo_payments import demo_payments
from .demo_supervision import demo_checks, demo_reviews, demo_village_reports

DEMO_PASSWORD = "jiuzhu-demo"

# 台儿庄区 (policy document 000). Township names are real; village names and all people are invented.
COUNTY = ("370405", "台儿庄区", 103000)
TOWNSHIPS = [
    ("370405001", "运河街道", 62000, [("370405001001", "中心社区"), ("370405001002", "古城社区"),
                                      ("370405001201", "西关村")]),
    ("370405101", "涧头集镇", 58000, [("370405101201", "涧头村"), ("370405101202", "前湖村"),
                                      ("370405101203", "后湖村")]),
]
USERS = [
    ("admin", "县级管理员", "county_admin", "370405"),
    ("county", "县民政局工作人员", "county_staff", "370405"),
    ("town1", "运河街道民政办", "township_staff", "370405001"),
    ("leader1", "运河街道分管领导", "township_leader", "370405001"),
    ("town2", "涧头集镇民政办", "township_staff", "370405101"),
    ("leader2", "涧头集镇分管领导", "township_leader", "370405101"),
    ("village1", "中心社区协理员", "village_assistant", "370405001001"),
]
HOUSEHOLDS = 500
RESERVE_ADVANCE = 50000          # 元: the advance DOMAIN.md names for a township's temporary-aid reserve
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "秀英桂兰玉凤淑珍建国志强伟军红梅海燕明华立新德胜永福春生秋菊文静小龙子涵浩然欣怡"


def _as_system(fn):
    def wrapped(*args, **kw):
        token = system.actor.set((None, "系统初始化", None))
        try:
            return fn(*args, **kw)
        finally:
            system.actor.reset(token)
    return wrapped


def has_admin(engine):
    User = engine.models["user"]
    return User.select().where(User.username == "admin").exists()


def _area(engine, code, name, level, parent=None, population=None):
    Area = engine.models["area"]
    row = Area.get_or_none(Area.code == code)
    if row:
        return row, False
    return Area.create(code=code, name=name, level=level, parent=parent, population=population), True


def _user(engine, username, full_name, role, area, password):
    User = engine.models["user"]
    if User.select().where(User.username == username).exists():
        return False
    User.create(username=username, full_name=full_name, role=role, area=area, password=password, active=True)
    return True


@_as_system
def minimal(engine, county_code, county_name, admin_password):
    if not (county_code and len(county_code) == 6 and county_code.isdigit()):
        raise ValueError("区划代码应为6位数字")
    if not has_admin(engine):
        # the demo county keeps the README's password; a real county's administrator meets the policy
        reasons = engine.accounts.problems(admin_password or "", "admin")
        if reasons:
            raise ValueError("管理员密码不符合要求：" + "；".join(reasons))
    with engine.db.atomic():
        county, _ = _area(engine, county_code, county_name, "county")
        made = _user(engine, "admin", "系统管理员", "county_admin", county, admin_password)
    return "已创建管理员 admin。" if made else "管理员 admin 已存在，未作改动。"


@_as_system
def demo(engine):
    created = {"area": 0, "user": 0, "household": 0, "member": 0, "standard": 0, "case": 0, "payment": 0}
    with engine.db.atomic():
        county, new = _area(engine, COUNTY[0], COUNTY[1], "county", population=COUNTY[2])
        created["area"] += new
        villages = []
        for code, name, pop, vils in TOWNSHIPS:
            town, new = _area(engine, code, name, "township", county, pop)
            created["area"] += new
            for vcode, vname in vils:
                village, new = _area(engine, vcode, vname, "village", town)
                created["area"] += new
                villages.append(village)
        Area = engine.models["area"]
        for username, full_name, role, area_code in USERS:
            created["user"] += _user(engine, username, full_name, role,
                                     Area.get(Area.code == area_code), DEMO_PASSWORD)
        h, m = _households(engine, villages)
        created["household"] += h
        created["member"] += m
        if "standard" in engine.models.models:
            created["standard"] = _standards(engine, county)
        if "reserve_entry" in engine.models.models and not engine.models["reserve_entry"].select().exists():
            for town in Area.select().where(Area.level == "township"):
                engine.models["reserve_entry"].create(township=town, kind="allocation", amount=RESERVE_ADVANCE,
                                                      entry_date=dt.date(clock.today().year, 1, 5),
                                                      note="县财政拨入临时救助备用金（演示）")
        if "case" in engine.models.models:
            Household = engine.models["household"]
            by_town = [list(Household.select().where(Household.village.in_([v.id for v in villages if v.parent_id == t.id]))
                            .order_by(Household.id)) for t in Area.select().where(Area.level == "township").order_by(Area.code)]
            created["case"] += demo_cases(engine, by_town)
        if "payment" in engine.models.models:
            created["payment"] = demo_payments(engine)
        demo_village_reports(engine)
        demo_checks(engine)
        demo_reviews(engine)
        if "complaint" in engine.models.models:
            demo_complaints(engine)
        if "dishonesty" in engine.models.models:
            demo_credit(engine)
        demo_household_check(engine)
    lines = ["演示数据：" + "，".join(f"新建{label} {created[k]} 条" for k, label in
                                   [("area", "区划"), ("user", "用户"), ("household", "家庭户"), ("member", "成员"),
                                    ("standard", "保障标准"), ("case", "救助事项"), ("payment", "发放记录")])]
    lines.append(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
    for username, full_name, role, area_code in USERS:
        lines.append(f"  {username:<9} {engine.registry.roles[role].label}  {full_name}")
    return "\n".join(lines)


# Sample standards (元/人·月), marked as samples: plausible for Shandong 2025–26, not an official figure.
STANDARDS = [
    ("2025-07", "dibao", "1", None, 880), ("2025-07", "dibao", "2", None, 700),
    ("2025-07", "tekun_basic", "1", None, 1150), ("2025-07", "tekun_basic", "2", None, 910),
    ("2026-01", "dibao", "1", None, 920), ("2026-01", "dibao", "2", None, 740),
    ("2026-01", "tekun_basic", "1", None, 1200), ("2026-01", "tekun_basic", "2", None, 965),
    ("2025-07", "care", None, "full", 150), ("2025-07", "care", None, "partial", 450),
    ("2025-07", "care", None, "none", 900),
]


def _standards(engine, county):
    Standard = engine.models["standard"]
    if Standard.select().exists():
        return 0
    for month, kind, hukou, level, amount in STANDARDS:
        Standard.create(area=county, kind=kind, hukou_type=hukou, care_level=level, effective_month=month,
                        amount=amount, sample=True, note="示例数据（非正式文件）")
    return len(STANDARDS)


def _households(engine, villages):
    Household, Member = engine.models["household"], engine.models["member"]
    existing = {c for (c,) in Household.select(Household.code).where(
        Household.code.startswith("DEMO-")).tuples()}
    rng = random.Random(20201)
    made_h = made_m = 0
    used_ids = set()
    for i in range(HOUSEHOLDS):
        village = villages[i % len(villages)]
        code = f"DEMO-{village.code[-6:]}-{i + 1:04d}"
        people = _people(rng, used_ids, village)
        if code in existing:
            continue
        head = people[0]
        hh = Household.create(
            code=code, village=village, head_name=head["name"], head_id_number=head["id_number"],
            hukou_type="1" if village.code[6:9] < "100" else "2",
            address=f"台儿庄区{village.name}{rng.randint(1, 80)}号",
            phone=f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
            bank_name=rng.choice(["台儿庄农商银行", "中国农业银行台儿庄支行", "中国邮政储蓄银行台儿庄支行"]),
            account_name=head["name"], bank_account="6228" + "".join(str(rng.randint(0, 9)) for _ in range(15)),
            status=rng.choice(["none", "none", "in_care", "in_care", "in_care", "applying", "exited"]))
        made_h += 1
        for p in people:
            Member.create(household=hh, **p)
            made_m += 1
    return made_h, made_m


def _people(rng, used_ids, village):
    size = rng.choices([1, 2, 3, 4, 5], weights=[20, 30, 25, 15, 10])[0]
    head_birth = dt.date(rng.randint(1940, 1990), rng.randint(1, 12), rng.randint(1, 28))
    head_sex = rng.choice("12")
    surname = rng.choice(SURNAMES)
    people = [_person(rng, used_ids, surname, head_birth, head_sex, "02")]
    for k in range(1, size):
        if k == 1 and size > 1:
            birth = head_birth + dt.timedelta(days=rng.randint(-1500, 1500))
            sex, rel, sname = ("2" if head_sex == "1" else "1"), "10", rng.choice(SURNAMES)
        else:
            birth = dt.date(min(2022, head_birth.year + rng.randint(20, 32)), rng.randint(1, 12), rng.randint(1, 28))
            sex = rng.choice("12")
            rel, sname = ("20" if sex == "1" else "30"), surname
        people.append(_person(rng, used_ids, sname, birth, sex, rel))
    return people


def _person(rng, used_ids, surname, birth, sex, relation):
    while True:
        order = rng.randint(1, 499) * 2 + (1 if sex == "1" else 0)
        order = order if order < 1000 else order - 2
        number = idnumber.make("370405", birth, order)
        if number not in used_ids:
            used_ids.add(number)
            break
    age = (dt.date(2026, 1, 1) - birth).days // 365
    health = rng.choices(["10", "20", "30", "37", "31", "64", "65"], weights=[50, 15, 10, 8, 7, 6, 4])[0]
    disability = {"64": ("4", rng.choice("1234")), "65": ("5", rng.choice("123"))}.get(health, (None, None))
    if age < 18 or age >= 60:
        labour = "4"
    elif disability[0]:
        labour = rng.choice("23")
    else:
        labour = rng.choice("1112")
    income = 0 if labour in "34" else rng.choice([0, 300, 500, 800, 1200, 1800])
    return {"name": surname + "".join(rng.sample(GIVEN, rng.choice([1, 2]))), "id_number": number,
            "sex": sex, "birth_date": birth, "relation": relation, "ethnicity": "01",
            "health": health, "disability_class": disability[0], "disability_grade": disability[1],
            "labour_capacity": labour, "monthly_income": income,
            "marital_status": "20" if relation in ("02", "10") else "10",
            "education": rng.choice(["70", "80", "60", "99"])}
