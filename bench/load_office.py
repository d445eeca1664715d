"""Locust workload for bench_load.py: an office's mixed day against a real HTTP server.

Each simulated clerk logs in (county administrator, township staff or village assistant, as
dataset.py creates them) and then, with think time, opens list pages, searches by ID number, opens details, the home
page (dashboard) and the case list, and saves household edits (the form as loaded, a new phone).
A save answers 302; a 200 is a refusal (validation, busy, stale) and is counted as a failure with
the page's message, so nothing is hidden.
"""
import random
import re
from html.parser import HTMLParser

from locust import HttpUser, between, task

PASSWORD = "benchpass123"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
IDS = re.compile(r"/admin/household/details/\?id=(\d+)")
ALERT = re.compile(r'alert-danger[^>]*>.*?</button>\s*(.*?)\s*</div>', re.S)


class FormFields(HTMLParser):
    """name → value of the household form as the browser would post it (inline member rows left out:
    untouched rows are not posted, as when a clerk edits only the household)."""

    def __init__(self):
        super().__init__()
        self.values, self._select, self._textarea = {}, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name") or ""
        if name.startswith("members-") or not name:
            if tag == "option" and self._select and "selected" in a:
                self.values[self._select] = a.get("value", "")
            return
        if tag == "input" and a.get("type") not in ("submit", "button", "checkbox"):
            self.values[name] = a.get("value", "")
        elif tag == "select":
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "textarea":
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


signed_in = 0             # clerks of this Locust process that have logged in


class Clerk(HttpUser):
    abstract = True
    username = None
    wait_time = between(1, 3)

    def on_start(self):
        # logins happen while the users are spawned; bench_load.py runs Locust with --reset-stats, so
        # the figures start when every clerk is in and password hashing does not weigh on them
        page = self.client.get("/login", name="/login").text
        m = TOKEN.search(page)
        with self.client.post("/login", data={"username": self.username, "password": PASSWORD,
                                              "csrf_token": m.group(1) or m.group(2)}, name="/login [POST]",
                              allow_redirects=False, catch_response=True) as r:
            if r.status_code != 302 or "/login" in r.headers.get("Location", ""):
                r.failure(f"login as {self.username} refused: HTTP {r.status_code}")
        self.ids = []
        for page_no in range(3):
            html = self.page(f"/admin/household/?page={page_no}", "/admin/household/ (list)")
            self.ids += [int(i) for i in IDS.findall(html)]
        self.ids = sorted(set(self.ids)) or [1]
        global signed_in
        signed_in += 1
        runner = self.environment.runner
        if runner is not None and signed_in == runner.target_user_count:
            # every clerk is in: the figures start here. Locust's --reset-stats resets when the last
            # user is started, but on a busy machine logins (password hashing) run on well after that
            runner.stats.reset_all()

    def page(self, url, name):
        """GET a page; anything but the page itself is a failure: an error status, and also a
        redirect to the login page (a lost session answers 302 → /login → 200, which Locust would
        count as a success)."""
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True) as r:
            if r.status_code == 200:
                return r.text
            where = r.headers.get("Location", "")
            r.failure(f"redirected to the login page ({where[:60]})" if "/login" in where
                      else f"HTTP {r.status_code}")
            return ""

    @task(4)
    def household_list(self):
        self.page(f"/admin/household/?page={random.randint(0, 20)}", "/admin/household/ (list)")

    @task(2)
    def member_list(self):
        self.page("/admin/member/", "/admin/member/ (list)")

    @task(3)
    def id_search(self):
        prefix = f"370405{random.choice(['19', '198', '1975', '19600'])}"
        self.page(f"/admin/member/?search={prefix}", "/admin/member/?search=ID")

    @task(3)
    def details(self):
        self.page(f"/admin/household/details/?id={random.choice(self.ids)}", "/admin/household/details/")

    @task(2)
    def dashboard(self):
        self.page("/admin/", "/admin/ (home)")

    @task(1)
    def cases(self):
        self.page("/admin/case/", "/admin/case/ (list)")


class CountyAdmin(Clerk):
    weight = 1
    username = "bench_county"


class VillageAssistant(Clerk):
    weight = 2
    username = "bench_village"

    @task(3)
    def save_household(self):
        hid = random.choice(self.ids)
        page = self.page(f"/admin/household/edit/?id={hid}", "/admin/household/edit/ (form)")
        if not page:
            return
        fields = FormFields()
        fields.feed(page)
        data = dict(fields.values)
        data["phone"] = f"139{random.randrange(10**8):08d}"
        with self.client.post(f"/admin/household/edit/?id={hid}", data=data, allow_redirects=False,
                              name="/admin/household/edit/ (save)", catch_response=True) as r:
            if r.status_code == 302 and "/login" not in r.headers.get("Location", ""):
                return
            m = ALERT.search(r.text or "")
            message = re.sub(r"<[^>]+>", "", m.group(1)) if m else "no redirect"
            if "修改了它" in message:
                # two clerks saved one household at once: the second is refused, as designed
                r.success()
                self.environment.events.request.fire(
                    request_type="CONFLICT", name="/admin/household/edit/ (stale, refused as designed)",
                    response_time=r.elapsed.total_seconds() * 1000, response_length=0, exception=None,
                    context={})
            elif r.status_code == 302:
                r.failure("redirected to the login page")
            else:
                r.failure(f"HTTP {r.status_code}: {message[:120]}")


class TownshipStaff(VillageAssistant):
    """The township office: the same pages and saves over its 40 villages (a tenth of the county)."""
    weight = 1
    username = "bench_township"
