"""The oversight console in a real browser: Debian's headless Chromium driven through
chromium-driver by Selenium. Started by server/tests/console_browser.rs, which runs the server,
uploads data as phones do, and answers this script's questions on stdin (one JSON object per
line each way): it enrolls a phone with the code this script creates in the console, and tries
to sync with the phone this script revokes.

Screenshots at desktop and phone widths go to --screens (build/screenshots/ by default).
"""

import argparse
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

DESKTOP = (1366, 900)
PHONE = (390, 844)


def say(obj):
    print(json.dumps(obj), flush=True)


def hear():
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("the test harness went away")
    return json.loads(line)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Console:
    def __init__(self, url, driver_path, screens):
        opts = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--lang=vi", "--no-first-run", "--disable-extensions"):
            opts.add_argument(arg)
        self.d = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
        self.d.set_page_load_timeout(30)
        self.url = url
        self.screens = screens
        self.size(DESKTOP)

    def size(self, wh):
        self.d.set_window_size(*wh)

    def go(self, path):
        self.d.get(self.url + path)

    def css(self, sel):
        return self.d.find_element(By.CSS_SELECTOR, sel)

    def all(self, sel):
        return self.d.find_elements(By.CSS_SELECTOR, sel)

    def click(self, element):
        """Click something that loads a new page, and wait until it has."""
        old = self.css("html")
        element.click()
        WebDriverWait(self.d, 15).until(EC.staleness_of(old))

    def text(self):
        return self.css("body").text

    def shot(self, name):
        """The page at desktop and phone widths; at phone width nothing may overflow sideways
        except inside the tables' own scroll boxes."""
        for label, wh in (("desktop", DESKTOP), ("phone", PHONE)):
            self.d.set_window_size(wh[0], wh[1])
            height = self.d.execute_script("return document.documentElement.scrollHeight")
            self.d.set_window_size(wh[0], min(max(height + 120, wh[1]), 4000))
            path = os.path.join(self.screens, f"{name}-{label}.png")
            check(self.d.save_screenshot(path), f"screenshot {path}")
            if label == "phone":
                over = self.d.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                check(over <= 1, f"{name}: the page is {over}px wider than a phone")
        self.size(DESKTOP)

    def login(self, user, password):
        self.go("/console/login")
        self.css("input[name=username]").send_keys(user)
        self.css("input[name=password]").send_keys(password)
        self.click(self.css("section.login button[type=submit]"))
        check("/console/overview" in self.d.current_url, f"logged in as {user}: {self.d.current_url}")

    def logout(self):
        self.click(self.css("form[action='/console/logout'] button"))
        check("/console/login" in self.d.current_url, "logged out")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--screens", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--overdue-record", required=True)
    ap.add_argument("--team", required=True)
    args = ap.parse_args()
    os.makedirs(args.screens, exist_ok=True)
    c = Console(args.url, args.driver, args.screens)
    try:
        run(c, args)
    finally:
        c.d.quit()


def run(c, args):
    c.go("/console/overview")
    check("/console/login" in c.d.current_url, "a page without a session goes to the login")
    c.shot("login")
    c.login("huyen", args.password)

    # Overview: the chart, the map, coverage.
    check(c.css("h1").text == "Tổng quan", "Vietnamese by default")
    check(len(c.all("svg.chart rect")) > 0, "the risk chart has bars")
    check(len(c.all("svg.map path.commune")) == 2, "the map draws the district officer's two communes")
    check("30 %" in c.text(), "coverage of 19001: 3 of 10 households")
    c.shot("overview")
    c.click(c.all("svg.map a")[0])
    check("/console/communes/19001" in c.d.current_url, "a commune on the map opens its page")
    c.shot("commune")

    # Urgent cases: the overdue one first and marked.
    c.go("/console/urgent")
    rows = c.all("table.urgent tbody tr")
    check(len(rows) >= 3, "urgent cases listed")
    check(rows[0].get_attribute("data-record") == args.overdue_record, "the overdue case comes first")
    check("overdue" in rows[0].get_attribute("class"), "and is marked")
    check("Quá hạn" in rows[0].text, "with the time it is overdue by")
    check(any("visited" in r.text for r in rows), "a recorded action is shown")
    c.shot("urgent")

    # Enrollment: a code with its QR code; the harness enrolls a phone with it.
    c.go("/console/enrollment")
    Select(c.css("select[name=team]")).select_by_value(args.team)
    Select(c.css("select[name=role]")).select_by_value("volunteer")
    c.click(c.css("form[action='/console/enrollment'] button[type=submit]"))
    code = c.css("#new-code").text.strip()
    check(len(code) == 14, f"a code: {code!r}")
    check(len(c.all(".qr svg path")) > 0, "its QR code")
    c.shot("enrollment")
    say({"code": code})
    device = hear()["device"]

    # Devices: the new phone, revoked with a confirmation; the harness's next sync is refused.
    c.go("/console/devices")
    row = c.css(f"tr[data-device='{device}']")
    check("Cộng tác viên" in row.text, "the enrolled phone is listed with its role")
    c.shot("devices")
    c.click(row.find_element(By.LINK_TEXT, "Thu hồi"))
    check("Thu hồi thiết bị này?" in c.text(), "a confirmation first")
    c.shot("revoke-confirm")
    c.click(c.css("section.confirm button[type=submit]"))
    check("Đã thu hồi thiết bị." in c.text(), "revoked")
    check("Đã thu hồi" in c.css(f"tr[data-device='{device}']").text, "and shown so")
    say({"revoked": device})
    check(hear().get("refused") is True, "the revoked phone's next sync was refused")

    # A form without its CSRF token is refused.
    c.go("/console/enrollment")
    c.d.execute_script(
        "document.querySelector(\"form[action='/console/enrollment'] input[name=csrf]\").remove()")
    c.click(c.css("form[action='/console/enrollment'] button[type=submit]"))
    check("Bạn không có quyền truy cập trang này." in c.text(), "refused without a CSRF token")
    check(len(c.all("#new-code")) == 0, "and no code was made")
    c.shot("csrf-refused")

    # The audit log, then in English.
    c.go("/console/audit")
    text = c.text()
    for action in ("revoke_device", "create_code", "login"):
        check(action in text, f"{action} in the audit log")
    c.click(c.css("a.lang"))
    check(c.css("h1").text == "Audit log", "the English switch")
    c.shot("audit-en")
    c.click(c.css("a.lang"))
    c.logout()

    # A commune officer cannot open another commune by its URL.
    c.login("xa3", args.password)
    c.go("/console/communes/19001")
    check("Bạn không có quyền truy cập trang này." in c.text(), "another commune is refused")
    check("19001-" not in c.text(), "and shows nothing of it")
    c.shot("other-commune-refused")
    c.go("/console/urgent")
    check(args.overdue_record not in c.d.page_source, "nor its cases in the urgent list")
    say({"done": True})


if __name__ == "__main__":
    main()
