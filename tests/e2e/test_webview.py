#!/usr/bin/python3
"""e2e_webview: the web view (API.md 1.4, issue 11 item 4) in a real browser, headless Chromium
driven by Selenium.

1. The page as built (build/control/webview_page.html, what webview_page() serves) against
   webview_fake.py, a stand-in server whose sessions the test moves at will: opened with
   ?token=T every fetch carries "Authorization: Bearer T"; 64-bit integers sent as strings are
   shown; a session appears within 2 s, its counters move, it leaves within 2 s and its open
   detail says it is gone; paging (30 sessions, 25 a page); a label filter that is not key=value
   is refused on the page; no console errors.
2. The real appliance ([http] listen on the dut namespace's loopback, reached through a relayed
   port): the page loads with no console errors and shows both ports, the drop reasons of
   GetProxyStats and the worker; a session created over gRPC appears within 2 s with its
   endpoints and labels; 200 RTP packets sent through it move its counters while they flow
   (values between 0 and 200 seen) up to exactly 200, and port0's rx rate is shown non-zero;
   the state filter (active / connecting) and the label filter keep exactly the right rows;
   clicking a row shows its detail; destroyed over gRPC it leaves the table within 2 s.
3. With [grpc] tokens_file: / is refused without a token or with a wrong one, and the page
   opened with ?token=<a read token> goes live and shows a new session within 2 s.
Screenshots: build/e2e-logs/webview-fake.png and build/e2e-logs/webview.png;
WEBVIEW_SCREENSHOT=PATH also writes the appliance one there (docs/webview.png is made so).
"""
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402
from webview_browser import CHROMEDRIVER, CHROMIUM, Page, start_browser, wait_for  # noqa: E402
from webview_fake import FakeAppliance  # noqa: E402

LIVE = 2.0                     # API.md 1.4: a change shows within 2 s
HTTP_PORT = 9464               # inside the dut namespace: nothing else there
PAGE = lab.BUILD_DIR / "control" / "webview_page.html"
SHOTS = lab.BUILD_DIR / "e2e-logs" if lab.BUILD_DIR.is_dir() else Path("/tmp")


def screenshot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.d.save_screenshot(str(path))
    print(f"  screenshot: {path}")
    return path


# ---- 1: the page against the stand-in server ----

def fake_part(t, driver):
    token = "tok-" + os.urandom(6).hex()
    with FakeAppliance(PAGE.read_bytes(), token=token) as fake:
        for i in range(3):
            fake.add_session(f"pre-{i}", listen=(DUT0_ADDR, 21000 + 2 * i),
                             labels={"tenant": "ab"[i % 2]})
        p = Page(driver)
        driver.get(fake.url + "?token=" + token)
        st, took = wait_for(lambda: p.text("status").startswith("live"), 10)
        t.check(st, "the page goes live with ?token= (the fake answers 401 without it)",
                f"status {p.text('status')!r}")
        api = [(path, auth) for path, auth in fake.requests if path.startswith("/api/")]
        t.check(len(api) >= 2 and all(a == f"Bearer {token}" for _, a in api),
                "every /api/ request carries Authorization: Bearer <the page's ?token=>",
                f"{[(x, a) for x, a in api if a != f'Bearer {token}'][:3]} of {len(api)}")
        t.eq(p.text("sess-created"), "3", "sessions created (a 64-bit string in the JSON) shown")
        t.eq(sorted(p.sessions()), ["pre-0", "pre-1", "pre-2"], "the three sessions are listed")

        fake.add_session("fk-1", listen=(DUT0_ADDR, 22000), labels={"call": "x"})
        row, took = wait_for(lambda: p.sessions().get("fk-1"), LIVE + 1)
        t.check(row is not None and took <= LIVE, f"a new session shows within {LIVE} s",
                f"after {took:.2f} s")
        if row:
            t.eq(row["listen"], f"{DUT0_ADDR}:22000", "with its listen endpoint")
            t.eq(row["labels"], "call=x", "and its labels")
        p.click('tr[data-id="fk-1"]')
        d, _ = wait_for(lambda: p.text("d-id") == "fk-1" and not p.hidden("detail"), LIVE)
        t.check(d, "clicking the row opens its detail")
        fake.traffic("fk-1", 120)
        v, took = wait_for(lambda: (p.sessions().get("fk-1") or {}).get("fwd_packets") == "120",
                           LIVE + 1)
        t.check(v and took <= LIVE, f"its packet count moves to 120 within {LIVE} s",
                f"{p.sessions().get('fk-1')} after {took:.2f} s")
        fake.remove("fk-1")
        gone, took = wait_for(lambda: "fk-1" not in p.sessions(), LIVE + 1)
        t.check(gone and took <= LIVE, f"removed, it leaves the table within {LIVE} s",
                f"after {took:.2f} s")
        g, _ = wait_for(lambda: not p.hidden("d-gone"), LIVE + 1)
        t.check(g, "its open detail says the session is gone")

        for i in range(30):
            fake.add_session(f"pg-{i:02d}", listen=(DUT0_ADDR, 23000 + 2 * i))
        p.select_state("connecting")
        from selenium.webdriver.support.ui import Select
        from selenium.webdriver.common.by import By
        Select(driver.find_element(By.ID, "f-size")).select_by_value("25")
        first, _ = wait_for(lambda: len(p.sessions()) == 25, LIVE + 1)
        t.check(first, "page 1 holds 25 of the 33 connecting sessions", f"{len(p.sessions())}")
        page1 = set(p.sessions())
        p.click("#next")
        second, _ = wait_for(lambda: len(p.sessions()) == 8 and p.text("page") == "page 2",
                             LIVE + 1)
        t.check(second, "next: page 2 holds the other 8", f"{len(p.sessions())} {p.text('page')}")
        t.eq(len(page1 | set(p.sessions())), 33, "the two pages together: all 33, none twice")
        t.check(driver.find_element(By.ID, "next").get_attribute("disabled") is not None,
                "next is disabled on the last page")
        p.click("#prev")
        back, _ = wait_for(lambda: len(p.sessions()) == 25 and p.text("page") == "page 1",
                           LIVE + 1)
        t.check(back, "prev: back to page 1")

        n = len(fake.requests)
        p.set_label("tenant")
        err, _ = wait_for(lambda: "expected key=value" in (p.text("f-error") or ""), LIVE)
        t.check(err, "a label filter without '=' is refused on the page", p.text("f-error"))
        bad = [x for x, _ in fake.requests[n:] if re.search(r"label=tenant(&|$)", x)]
        t.eq(bad, [], "and never sent")
        p.set_label("")
        p.select_state("")

        screenshot(p, "webview-fake.png")
        driver.get("about:blank")           # before the server goes: no refused fetches later
        errors = p.errors(allowed=("/api/session?id=fk-1 ",))
        t.eq(errors, [], "no console errors (but the expected 404 of the removed session)")


# ---- 2: the real appliance ----

def rtp(i):
    return lab.rtp_packet(i, i * 160, 0x57E8, payload=lab.payload_for("webview", i, 160))


def send_paced(sock, to, n, seconds):
    """N RTP packets to TO spread over about SECONDS (so the page sees them flowing)."""
    step = seconds / n
    t0 = time.monotonic()
    for i in range(n):
        sock.sendto(rtp(i), to)
        delay = t0 + (i + 1) * step - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def appliance_part(t, driver, L):
    pb = lab.pb2()
    cfg = {"http": {"listen": f"127.0.0.1:{HTTP_PORT}"}}
    with lab.Appliance(L, config=cfg) as app, lab.NetnsForwarder(L.dut, "127.0.0.1", HTTP_PORT) as fw:
        p = Page(driver)
        url = f"http://127.0.0.1:{fw.local_port}/"
        driver.get(url)
        live, _ = wait_for(lambda: (p.text("status") or "").startswith("live")
                           and len(p.rows("ports")) == 2, 10)
        t.check(live, "the appliance's page goes live", f"status {p.text('status')!r}")
        t.eq([r["port"] for r in p.rows("ports")], ["port0", "port1"], "both ports listed")
        stats = app.proxy_stats()
        t.eq(sorted(r["reason"] for r in p.rows("drops") if "reason" in r), sorted(stats.drops),
             "the drop reasons are GetProxyStats's")
        t.eq([r["worker"] for r in p.rows("workers")], ["0"], "the worker is listed")
        busy, _ = wait_for(lambda: re.fullmatch(r"[0-9]+(\.[0-9]+)? %",
                                                (p.rows("workers") or [{}])[0].get("busy", "")),
                           LIVE + 1)
        t.check(busy, "the worker's busy ratio is shown (from two polls' cycles)",
                f"{p.rows('workers')}")
        t.eq(p.text("version"), "v" + stats.version, "the version")

        listen, fwd, dest = (DUT0_ADDR, 20000), (DUT1_ADDR, 30000), (DST_ADDR, 40000)
        app.stub.CreateSession(udp_session("web-1", listen, fwd, dest, labels={"call": "one"}))
        row, took = wait_for(lambda: p.sessions().get("web-1"), LIVE + 2)
        t.check(row is not None and took <= LIVE,
                f"a session created over gRPC shows within {LIVE} s ({took:.2f} s)")
        if row:
            t.eq((row["listen"], row["forward"], row["destination"]),
                 ("198.18.1.1:20000", "198.18.2.1:30000", "198.18.2.2:40000"),
                 "with its listen, forward and destination endpoints")
            t.eq(row["labels"], "call=one", "and its label")
            t.eq(row["state"], "connecting", "state connecting before any packet")
        app.stub.CreateSession(udp_session("web-2", (DUT0_ADDR, 20002), (DUT1_ADDR, 30002),
                                           (DST_ADDR, 40002), labels={"call": "two"}))
        wait_for(lambda: "web-2" in p.sessions(), LIVE + 2)

        cli = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
        dst = lab.udp_socket(L, "dst", bind=dest)
        seen, rates = set(), []
        sender = threading.Thread(target=send_paced, args=(cli, listen, 200, 3.0), daemon=True)
        sender.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r = p.sessions().get("web-1") or {}
            if r.get("fwd_packets"):
                seen.add(r["fwd_packets"])
            rx = next((x["rx_pps"] for x in p.rows("ports") if x.get("port") == "port0"), "–")
            rates.append(rx)
            if r.get("fwd_packets") == "200" and not sender.is_alive():
                break
            time.sleep(0.1)
        sender.join(5)
        got = lab.recv_all(dst, 200, 5)
        t.eq(len(got), 200, "the destination received the 200 packets")
        mid = sorted(int(v.replace(",", "")) for v in seen if v not in ("0", "200"))
        t.check(len(mid) >= 1, "the page showed the count moving while RTP flowed (0 < n < 200)",
                f"values seen {sorted(seen)}")
        t.check("200" in seen, "then exactly 200 packets", f"values seen {sorted(seen)}")
        t.check(any(x not in ("–", "0.0") for x in rates), "port0's rx rate was shown non-zero",
                f"{rates[:20]}")
        row = p.sessions().get("web-1", {})
        t.eq(row.get("state"), "active", "the session is active")
        w = p.rows("workers")
        t.check(w and int(w[0]["relayed"].replace(",", "")) >= 200, "the worker relayed >= 200",
                f"{w}")

        p.select_state("active")
        v, took = wait_for(lambda: sorted(p.sessions()) == ["web-1"], LIVE + 1)
        t.check(v and took <= LIVE, "state filter active: only web-1", f"{sorted(p.sessions())}")
        p.select_state("connecting")
        v, took = wait_for(lambda: sorted(p.sessions()) == ["web-2"], LIVE + 1)
        t.check(v and took <= LIVE, "state filter connecting: only web-2", f"{sorted(p.sessions())}")
        p.select_state("")
        p.set_label("call=one")
        v, took = wait_for(lambda: sorted(p.sessions()) == ["web-1"], LIVE + 1)
        t.check(v and took <= LIVE, "label filter call=one: only web-1", f"{sorted(p.sessions())}")
        p.set_label("call=three")
        v, _ = wait_for(lambda: p.sessions() == {} and not p.hidden("sessions-empty"), LIVE + 1)
        t.check(v, "label filter call=three: no rows, 'no sessions'", f"{sorted(p.sessions())}")
        p.set_label("")
        v, _ = wait_for(lambda: sorted(p.sessions()) == ["web-1", "web-2"], LIVE + 1)
        t.check(v, "filters cleared: both sessions", f"{sorted(p.sessions())}")

        p.click('tr[data-id="web-1"]')
        det = lambda: p.d.execute_script(
            "const o = {}; for (const dd of document.querySelectorAll('#d-fields dd'))"
            " o[dd.dataset.field] = dd.textContent;"
            " const r = document.querySelector('#d-stats tr[data-stat=packets_received]');"
            " o.rx = r ? r.cells[1].textContent : null; return o;")
        d, _ = wait_for(lambda: det().get("rx") == "200", LIVE + 1)
        t.check(d, "its detail: 200 packets received forward", f"{det()}")
        t.eq(det().get("latched source", "")[:len(CLI_ADDR)], CLI_ADDR,
             "its detail: the latched source is the client")

        # A few more sessions, two of them with traffic flowing, for the screenshot's sake.
        flows = []
        for i in range(3, 6):
            app.stub.CreateSession(udp_session(f"web-{i}", (DUT0_ADDR, 20000 + 2 * i),
                                               (DUT1_ADDR, 30000 + 2 * i),
                                               (DST_ADDR, 40000 + 2 * i),
                                               labels={"call": f"c{i}", "tenant": "acme"}))
        for i, n in ((3, 250), (4, 500)):
            sink = lab.udp_socket(L, "dst", bind=(DST_ADDR, 40000 + 2 * i))
            th = threading.Thread(target=send_paced, args=(cli, (DUT0_ADDR, 20000 + 2 * i), n, 5.0),
                                  daemon=True)
            th.start()
            flows.append((th, sink))
        flowing = lambda: all((p.sessions().get(f"web-{i}") or {}).get("pps", "–") not in ("–", "0.0")
                              for i in (3, 4))
        v, _ = wait_for(flowing, 4)
        t.check(v, "two more sessions show their packet rates while RTP flows",
                f"{[(k, r.get('pps')) for k, r in p.sessions().items()]}")
        u = p.updates()                      # one more poll drawn, for the picture
        wait_for(lambda: p.updates() > u, LIVE)
        screenshot(p, "webview.png")
        for th, sink in flows:
            th.join(10)
            sink.close()
        if os.environ.get("WEBVIEW_SCREENSHOT"):
            shutil.copy(SHOTS / "webview.png", os.environ["WEBVIEW_SCREENSHOT"])

        app.stub.DestroySession(pb.DestroySessionRequest(session_id="web-1"))
        gone, took = wait_for(lambda: "web-1" not in p.sessions(), LIVE + 2)
        t.check(gone and took <= LIVE,
                f"destroyed over gRPC, it leaves the table within {LIVE} s ({took:.2f} s)")
        g, _ = wait_for(lambda: not p.hidden("d-gone"), LIVE + 1)
        t.check(g, "its open detail says it is gone")
        driver.get("about:blank")           # before the appliance stops
        errors = p.errors(allowed=("/api/session?id=web-1 ",))
        t.eq(errors, [], "no console errors (but the expected 404 of the destroyed session)")
        cli.close()
        dst.close()


def tokens_part(t, driver, L):
    """[grpc] tokens_file set: the page and its JSON need a read (or admin) token."""
    admin, reader = "adm-" + os.urandom(8).hex(), "rd-" + os.urandom(8).hex()
    with tempfile.TemporaryDirectory() as d:
        tokens = Path(d) / "tokens"
        tokens.write_text(f"{admin} admin ops\n{reader} read monitor\n")
        tokens.chmod(0o600)
        cfg = {"grpc": {"tokens_file": str(tokens)}, "http": {"listen": f"127.0.0.1:{HTTP_PORT}"}}
        meta = (("authorization", f"Bearer {admin}"),)
        with lab.Appliance(L, config=cfg, name="tokens", metadata=meta) as app, \
                lab.NetnsForwarder(L.dut, "127.0.0.1", HTTP_PORT) as fw:
            url = f"http://127.0.0.1:{fw.local_port}/"
            p = Page(driver)
            for q, what in (("", "no token"), ("?token=nope", "a wrong token")):
                driver.get(url + q)
                body = driver.find_element("tag name", "body").text
                t.check("token is required" in body, f"{what}: the page is refused", body[:200])
            n = len(p.console())                # those two 401s are the point: not errors below
            driver.get(url + "?token=" + reader)
            live, _ = wait_for(lambda: (p.text("status") or "").startswith("live"), 10)
            t.check(live, "?token=<read token>: the page goes live (its fetches carry it)",
                    f"status {p.text('status')!r}")
            app.stub.CreateSession(udp_session("tok-1", (DUT0_ADDR, 20000), (DUT1_ADDR, 30000),
                                               (DST_ADDR, 40000)))
            row, took = wait_for(lambda: p.sessions().get("tok-1"), LIVE + 2)
            t.check(row is not None and took <= LIVE, f"a new session shows within {LIVE} s",
                    f"after {took:.2f} s")
            driver.get("about:blank")
            t.eq([e for e in p.console()[n:] if e.get("level") == "SEVERE"], [],
                 "no console errors")


def body(t):
    for f in (CHROMIUM, CHROMEDRIVER):
        if not os.access(f, os.X_OK):
            t.check(False, f"{f} is installed (scripts/bootstrap.sh)")
            return
    if not PAGE.is_file():
        t.check(False, f"{PAGE} is built (ninja -C {lab.BUILD_DIR})")
        return
    driver = start_browser()
    try:
        t.run("the page against the stand-in server", fake_part, t, driver)
        with lab.Lab() as L:
            driver.get("about:blank")
            t.run("the page served by the appliance", appliance_part, t, driver, L)
            t.run("the page with tokens configured", tokens_part, t, driver, L)
    finally:
        driver.quit()


if __name__ == "__main__":
    lab.main_wrapper("webview", body)
