"""What test_webview.py needs around a real browser: headless Chromium under Selenium (Debian's
chromium, chromium-driver, python3-selenium), the page's tables read in one round trip, the
browser's console log. (The browser reaches the appliance's HTTP server, on the dut namespace's
loopback, through lab.NetnsForwarder.)"""
import time


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

# Every row of a table as {data-col: text}, plus the row's data-* keys: one call, no stale nodes.
ROWS_JS = """
const out = [];
for (const tr of document.querySelectorAll(arguments[0] + ' tbody tr')) {
	const o = Object.assign({}, tr.dataset);
	for (const td of tr.cells)
		if (td.dataset.col)
			o[td.dataset.col] = td.textContent;
	out.push(o);
}
return out;
"""


def start_browser(width=1600, height=1200):
    """A headless Chromium (root VM: no sandbox) that keeps its console log."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--no-first-run", "--disable-extensions", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--metrics-recording-only",
              f"--window-size={width},{height}", "--force-device-scale-factor=1",
              "--lang=en-US"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


class Page:
    """The web view open in DRIVER: its tables and the console log so far."""

    def __init__(self, driver):
        self.d = driver
        self.log = []

    def rows(self, table):
        return self.d.execute_script(ROWS_JS, "#" + table)

    def sessions(self):
        return {r["id"]: r for r in self.rows("sessions")}

    def text(self, elem_id):
        return self.d.execute_script(
            "const e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
            elem_id)

    def hidden(self, elem_id):
        return self.d.execute_script("return document.getElementById(arguments[0]).hidden;", elem_id)

    def updates(self):
        return int(self.d.execute_script("return document.body.dataset.updates || '0';"))

    def console(self):
        """Every console entry since the start (Selenium hands each out once)."""
        self.log += self.d.get_log("browser")
        return self.log

    def errors(self, allowed=()):
        """SEVERE console entries whose message contains none of ALLOWED."""
        return [e for e in self.console() if e.get("level") == "SEVERE"
                and not any(a in e.get("message", "") for a in allowed)]

    def select_state(self, value):
        from selenium.webdriver.support.ui import Select
        from selenium.webdriver.common.by import By
        Select(self.d.find_element(By.ID, "f-state")).select_by_value(value)

    def set_label(self, text):
        from selenium.webdriver.common.by import By
        box = self.d.find_element(By.ID, "f-label")
        box.clear()
        # clear() fires no input event: the page learns of an empty box from a keystroke.
        box.send_keys(text if text else " ")
        if not text:
            from selenium.webdriver.common.keys import Keys
            box.send_keys(Keys.BACKSPACE)

    def click(self, css):
        """Click CSS's element in one step in the page: the session rows are rebuilt every
        poll, so an element found in one WebDriver call may be gone by the next."""
        if not self.d.execute_script(
                "const e = document.querySelector(arguments[0]); if (e) e.click(); return !!e;",
                css):
            raise AssertionError(f"nothing on the page matches {css}")


def wait_for(fn, timeout, interval=0.05):
    """(value, seconds taken): FN's first true value within TIMEOUT, else its last one."""
    t0 = time.monotonic()
    while True:
        v = fn()
        el = time.monotonic() - t0
        if v or el >= timeout:
            return v, el
        time.sleep(interval)
