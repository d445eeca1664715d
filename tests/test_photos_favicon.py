"""The village assistant's home visit (入户调查) takes a phone camera photo as its attachment; the
site has a favicon."""
import io

from .conftest import Browser, engine_of
from .test_case_web import act, household_in, latest_case, new_case, page, seen_of
from schema import clock


def test_home_visit_photo_from_a_phone(any_app):
    engine = engine_of(any_app)
    town, village = Browser(any_app), Browser(any_app)
    assert town.login("town1").status_code == 302 and village.login("village1").status_code == 302
    new_case(town, household_in(any_app, "370405001001"))
    case = latest_case(any_app)
    act(town, case.id, "start_investigation")
    html = page(village, case.id)
    form = html[html.find('value="record_home_visit"'):]
    assert 'accept="image/*,' in form and 'type="file"' in form          # the phone offers its camera
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"
    r = village.post(f"/admin/case/transition/?id={case.id}", {
        "transition": "record_home_visit", "seen": seen_of(html), "investigator_1": "张明", "investigator_2": "李红",
        "home_visit_date": clock.today().isoformat(), "home_visit_record": "拍了住房照片",
        "attachment": (io.BytesIO(photo), "IMG_20261202_101500.jpg")}, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    assert "附件：IMG_20261202_101500.jpg" in page(village, case.id)
    Step = engine.models["case_step"]
    step = Step.select().where(Step.case == case.id, Step.action == "record_home_visit").get()
    assert village.get(f"/admin/case/attachment/?step={step.id}").data == photo


def test_favicon(any_app):
    b = Browser(any_app)
    r = b.get("/favicon.ico", follow_redirects=True)
    assert r.status_code == 200 and b"<svg" in r.data
    assert b.login("village1").status_code == 302
    assert 'rel="icon"' in b.get("/admin/").get_data(as_text=True)
