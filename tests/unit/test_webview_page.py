#!/usr/bin/python3
"""webview_page: the web view as built (control/webview/embed_page.py's outputs).

- self-contained: no src/href/action but data: URLs and in-page anchors, no url() or @import
  in the style, the script fetches only /api/ paths of its own origin;
- its Content-Security-Policy <meta> names the sha256 of every inline <script> and <style>
  (and so the browser runs them: e2e_webview sees no console errors);
- webview_page_data[] in the generated C holds exactly the page's bytes, webview_page_len its
  length, webview_csp_text the same policy plus frame-ancestors 'none'.

    test_webview_page.py BUILD/control/webview_page.html BUILD/control/webview_page.c
"""
import base64
import hashlib
import re
import sys
from html.parser import HTMLParser

passed = failed = 0


def check(cond, desc, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok    {desc}")
    else:
        failed += 1
        print(f"  FAIL  {desc}" + (f": {detail}" if detail else ""))


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.refs, self.blocks, self.csp = [], [], None
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href", "action", "srcset", "poster", "data"):
            if k in a:
                self.refs.append((tag, k, a[k]))
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = a.get("content")
        if tag in ("script", "style"):
            self._in = [tag, ""]

    def handle_data(self, data):
        if self._in is not None:
            self._in[1] += data

    def handle_endtag(self, tag):
        if self._in is not None and tag == self._in[0]:
            self.blocks.append(tuple(self._in))
            self._in = None


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: test_webview_page.py PAGE_HTML PAGE_C")
    data = open(sys.argv[1], "rb").read()
    c_text = open(sys.argv[2]).read()
    html = data.decode("utf-8")
    p = Page()
    p.feed(html)
    p.close()

    external = [r for r in p.refs if not (r[2].startswith("data:") or r[2].startswith("#"))]
    check(external == [], "no reference outside the page (src/href/action)", f"{external}")
    kinds = sorted(k for k, _ in p.blocks)
    check(kinds == ["script", "style"], "one inline <script> and one inline <style>", f"{kinds}")
    style = "".join(b for k, b in p.blocks if k == "style")
    script = "".join(b for k, b in p.blocks if k == "script")
    check(not re.search(r"url\(|@import", style), "the style loads nothing (no url(), @import)")
    # api(x) calls (not its definition): a literal "/api/..." or `path`, sessionsQuery()'s.
    calls = re.findall(r"await api\(([^)+]*)", script)
    ok = [c for c in calls if c.startswith('"/api/') or c == "path"]
    check(len(calls) == 3 and ok == calls and 'return "/api/sessions?" +' in script,
          "the script fetches /api/ paths only", f"{calls}")
    check(re.search(r"\b(XMLHttpRequest|WebSocket|eval|new Function|innerHTML|outerHTML|"
                    r"insertAdjacentHTML|document\.write)\b", script) is None,
          "no XHR/WebSocket/eval/innerHTML-style sinks in the script")
    check("fetch(path" in script and script.count("fetch(") == 1, "one fetch(), in api()")

    check(p.csp is not None, "a Content-Security-Policy <meta>")
    csp = p.csp or ""
    for kind, body in p.blocks:
        h = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        src = re.search(rf"{kind}-src ([^;]*)", csp)
        check(src is not None and f"'sha256-{h}'" in src.group(1),
              f"the CSP's {kind}-src names the inline {kind}'s sha256")
    for d in ("default-src 'none'", "connect-src 'self'", "base-uri 'none'"):
        check(d in csp, f"the CSP has {d}")

    arr = re.search(r"webview_page_data\[(\d+)\] = \{(.*?)\};", c_text, re.S)
    got = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", arr.group(2))) if arr else b""
    check(got == data + b"\0", "webview_page_data[] is the page, NUL-terminated",
          f"{len(got)} bytes vs {len(data) + 1}")
    ln = re.search(r"webview_page_len = (\d+);", c_text)
    check(ln is not None and int(ln.group(1)) == len(data), "webview_page_len is its length")
    hdr = re.search(r'webview_csp_text\[\] = "(.*)";', c_text)
    check(hdr is not None and hdr.group(1) == csp + "; frame-ancestors 'none'",
          "webview_csp_text is the same policy plus frame-ancestors 'none'",
          hdr.group(1) if hdr else "missing")

    print(f"test_webview_page: {passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 and passed > 0 else 1)


if __name__ == "__main__":
    main()
