"""Households found by any member's ID number or name; the same defaults on every path (form,
import, save rules): a one-village user's village, a new case's applicant and 申请日期."""
import re

from .conftest import Browser, engine_of
from .test_imports import household, member, pid, template_headers, upload, workbook
from .test_scope_matrix import VILLAGES
from schema import clock


def login(app, username):
    b = Browser(app)
    assert b.login(username).status_code == 302
    return b


def listed_ids(b, url):
    html = b.get(url).get_data(as_text=True)
    body = html[html.find("</thead>"):html.find("</table>", html.find("</thead>"))]
    return {int(i) for i in re.findall(r"/admin/household/details/\?id=(\d+)", body)}


def spouse_in(engine, village_code):
    A, H, M = engine.models["area"], engine.models["household"], engine.models["member"]
    village = A.get(A.code == village_code)
    return (M.select().join(H, on=(M.household == H.id))
            .where(H.village == village, M.relation != "02", M.archived == False, H.archived == False)  # noqa: E712
            .order_by(M.id).first())


def test_household_search_by_any_members_id_or_name(any_app):
    engine = engine_of(any_app)
    spouse = spouse_in(engine, VILLAGES["center"])
    H = engine.models["household"]
    home = H.get_by_id(spouse.__data__["household"])
    assert home.head_id_number != spouse.id_number
    b = login(any_app, "village1")
    assert listed_ids(b, f"/admin/household/?search={spouse.id_number}") == {home.id}
    assert home.id in listed_ids(b, f"/admin/household/?search={spouse.name}")
    assert "任一家庭成员的姓名、身份证号" in b.get("/admin/household/").get_data(as_text=True)
    assert listed_ids(login(any_app, "county"), f"/admin/household/?search={spouse.id_number}") == {home.id}
    assert listed_ids(login(any_app, "town2"), f"/admin/household/?search={spouse.id_number}") == set()
    assert listed_ids(b, "/admin/household/?search=370405000000000000") == set()


def test_one_village_user_gets_the_village_preset(any_app):
    engine = engine_of(any_app)
    A = engine.models["area"]
    center = A.get(A.code == VILLAGES["center"])
    html = login(any_app, "village1").get("/admin/household/new/").get_data(as_text=True)
    assert re.search(r'id="village" name="village" type="hidden" value="%d"' % center.id, html)
    html = login(any_app, "town1").get("/admin/household/new/").get_data(as_text=True)
    field = re.search(r'<input[^>]*id="village"[^>]*>', html).group(0)
    assert not re.search(r'value="\d+"', field)                # several villages: the user chooses


def test_new_case_copies_the_applicant_and_today(any_app):
    engine = engine_of(any_app)
    Case = engine.models["case"]
    spouse = spouse_in(engine, VILLAGES["center"])
    home = engine.models["household"].get_by_id(spouse.__data__["household"])
    b = login(any_app, "village1")
    page = b.get(f"/admin/household/details/?id={home.id}").get_data(as_text=True)
    assert f'id="new-case" href="/admin/case/new/?household={home.id}"' in page
    html = b.get(f"/admin/case/new/?household={home.id}").get_data(as_text=True)
    today = clock.today().isoformat()
    assert f'value="{home.head_name}"' in html and f'value="{home.head_id_number}"' in html
    assert f'id="apply_date" name="apply_date" type="date" value="{today}"' in html
    outside = spouse_in(engine, VILLAGES["jiantou"])
    other = engine.models["household"].get_by_id(outside.__data__["household"])
    html = b.get(f"/admin/case/new/?household={other.id}").get_data(as_text=True)
    assert other.head_name not in html                      # another village's household: nothing shown
    # saved with the applicant and the date left empty: the save rules fill the same values
    before = Case.select().count()
    r = b.post("/admin/case/new/", data={"household": str(home.id), "assistance_type": "12", "channel": "window",
                                         "applicant_name": "", "applicant_id_number": "", "apply_date": ""})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    assert Case.select().count() == before + 1
    case = Case.select().order_by(Case.id.desc()).first()
    assert (case.applicant_name, case.applicant_id_number) == (home.head_name, home.head_id_number)
    assert case.apply_date is not None
    typed = b.post("/admin/case/new/", data={"household": str(home.id), "assistance_type": "12", "channel": "window",
                                             "applicant_name": spouse.name, "applicant_id_number": spouse.id_number,
                                             "apply_date": "2026-11-30"})
    assert typed.status_code == 302
    case = Case.select().order_by(Case.id.desc()).first()
    assert (case.applicant_name, str(case.apply_date)) == (spouse.name, "2026-11-30")      # what was typed stays


def test_imported_household_gets_the_default_status(any_app):
    engine = engine_of(any_app)
    H, M = engine.models["household"], engine.models["member"]
    b = login(any_app, "village1")
    code = f"DEF-{engine.models.db.__class__.__name__[:2]}-01"
    data = workbook(template_headers(b), [household(code, pid(1961, 71))], [member(code, pid(1961, 71), 月收入="")])
    job, state = upload(b, data)
    assert state["ok"], state
    assert b.post(f"/admin/imports/job/{job}/commit").status_code == 302
    h = H.get(H.code == code)
    assert h.status == "none"                              # the form's default 未纳入, not blank
    head = M.get(M.id_number == pid(1961, 71))
    assert head.ethnicity == "01" and head.monthly_income == 0


def test_member_rows_refused_all_at_once_naming_the_household(any_app):
    """Two people already in other households: both rows named, the in-scope household by its title,
    the other village's as 另一户（不在您的管辖范围）; nothing is written and what was typed stays."""
    engine = engine_of(any_app)
    H = engine.models["household"]
    A = engine.models["area"]
    mine, theirs = spouse_in(engine, VILLAGES["center"]), spouse_in(engine, VILLAGES["jiantou"])
    home = H.get_by_id(mine.__data__["household"])
    center = A.get(A.code == VILLAGES["center"])
    head = pid(1955, 91)
    data = {"code": "ROW-ERR-1", "village": str(center.id), "head_name": "钱一", "head_id_number": head,
            "hukou_type": "2", "status": "none"}
    for n, (name, number, relation) in enumerate([("钱一", head, "02"), (mine.name, mine.id_number, "10"),
                                                  ("外村人", theirs.id_number, "20")]):
        data.update({f"members-{n}-name": name, f"members-{n}-id_number": number, f"members-{n}-relation": relation,
                     f"members-{n}-ethnicity": "01", f"members-{n}-monthly_income": "0", f"members-{n}-id": ""})
    b = login(any_app, "village1")
    before = H.select().count()
    r = b.post("/admin/household/new/", data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and H.select().count() == before
    title = f"{home.code} {home.head_name}"
    assert f"家庭成员第2行（{mine.name}）：身份证号 {mine.id_number} 已登记在“{title}”户中" in html
    assert f"家庭成员第3行（外村人）：身份证号 {theirs.id_number} 已登记在另一户（不在您的管辖范围）中" in html
    assert H.get_by_id(theirs.__data__["household"]).head_name not in html
    assert "id_number" not in re.sub(r'(id|name|for)="[^"]*"', "", html).split("保存失败", 1)[-1][:400]
    assert 'value="ROW-ERR-1"' in html and f'value="{mine.id_number}"' in html      # nothing typed is lost
