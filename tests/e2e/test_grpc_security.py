#!/usr/bin/python3
"""e2e_grpc_security: the control API secured (API.md 1.3), against the real appliance with
gRPC on TCP inside the dut namespace (the test reaches it through lab.NetnsForwarder, which
connects from inside that namespace, so the server sees real TCP peers).

Certificates are made here with openssl in a temporary directory (a CA, a server certificate
for localhost/127.0.0.1/::1, a client certificate with CN "ops-client", and a stranger CA that
signed nothing the server trusts).

1. TLS + tokens + allowed_peers 127.0.0.0/8 + [audit] file + max_message_bytes 4096, on
   [::]:50051: the right CA works, plaintext and a wrong CA do not; no token / a wrong one /
   a malformed header -> UNAUTHENTICATED; a read token: Get/List/Stats OK, Create and Destroy
   PERMISSION_DENIED; admin creates and destroys; the peer ::1 (outside allowed_peers) ->
   UNAUTHENTICATED even with the admin token; a request over 4096 bytes -> RESOURCE_EXHAUSTED;
   each audit line checked field by field; no token in the log or audit file; SIGHUP with a
   new tokens file (new token works, removed one refused), a bad one (old tokens kept, ERROR
   logged), the audit file moved away (a new one is written); rtpproxyctl --tls-ca with
   --token-file and with RTPPROXY_TOKEN creates and gets a session, a read token is refused.
2. Mutual TLS, audit to the log: without a client certificate (or with one from another CA)
   no call gets through; with it calls work and the audit principal is the certificate's CN;
   rtpproxyctl with --tls-cert/--tls-key.
3. A bad tokens file stops start-up with FILE:LINE and never prints the token; so does a
   tls_key that is not tls_cert's key.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402

PORT = 50051
ADMIN = "adm-7f3c9a1e5b2d4c6f8a0e"
READER = "rd-1b2c3d4e5f60718293a4"
WRONG = "wr-0000000000000000000x"
NEW_ADMIN = "adm2-99887766554433221100"
ALL_TOKENS = (ADMIN, READER, WRONG, NEW_ADMIN)
AUDIT_KEYS = ["ts", "peer", "principal", "method", "session_id", "code"]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, name, cn):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_leaf(d, name, cn, ca, ext):
    (Path(d) / f"{name}.ext").write_text(ext + "\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d)


def make_pki(d):
    make_ca(d, "ca", "rtpproxy test CA")
    make_ca(d, "other", "stranger CA")
    make_leaf(d, "server", "rtpproxy", "ca",
              "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth")
    make_leaf(d, "client", "ops-client", "ca", "extendedKeyUsage=clientAuth")
    make_leaf(d, "stranger", "stranger", "other", "extendedKeyUsage=clientAuth")
    return {n: Path(d) / n for n in ("ca.pem", "other.pem", "server.pem", "server.key",
                                     "client.pem", "client.key", "stranger.pem", "stranger.key")}


def tls_channel(target, ca, cert=None, key=None):
    import grpc
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None)
    # the forwarder's unix socket has no host name: check the certificate against localhost
    return grpc.secure_channel(target, creds, options=[("grpc.ssl_target_name_override",
                                                        "localhost")])


def bearer(tok):
    return (("authorization", f"Bearer {tok}"),)


def session_req(n):
    """A valid UDP session request with a generated id (session_id left empty)."""
    base = 21000 + 10 * n
    return lab.udp_session("", (lab.DUT0_ADDR, base), (lab.DUT1_ADDR, base),
                           (lab.DST_ADDR, base))


def audit_lines_of(text, prefix=""):
    out = []
    for line in text.splitlines():
        if prefix:
            i = line.find(prefix)
            if i < 0:
                continue
            line = line[i + len(prefix):]
        if line.strip():
            out.append(json.loads(line))
    return out


def check_audit(t, rec, desc, peer_re, principal, method, session_id, code):
    if not t.check(rec is not None, f"{desc}: an audit line"):
        return
    t.eq(list(rec.keys()), AUDIT_KEYS, f"{desc}: audit keys, in order")
    t.check(isinstance(rec.get("ts"), int) and abs(rec["ts"] / 1000 - __import__("time").time())
            < 120, f"{desc}: ts is unix milliseconds of now", f"got {rec.get('ts')!r}")
    t.check(re.fullmatch(peer_re, str(rec.get("peer"))) is not None, f"{desc}: peer",
            f"got {rec.get('peer')!r}, want /{peer_re}/")
    t.eq(rec.get("principal"), principal, f"{desc}: principal")
    t.eq(rec.get("method"), method, f"{desc}: method")
    t.eq(rec.get("session_id"), session_id, f"{desc}: session_id")
    t.eq(rec.get("code"), code, f"{desc}: code")


def run_ctl(lab_, *args, env=None):
    ctl = lab.BUILD_DIR / "control" / "rtpproxyctl"
    return subprocess.run(["ip", "netns", "exec", lab_.dut, str(ctl),
                           "--server", f"127.0.0.1:{PORT}", *map(str, args)],
                          capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, **(env or {})))


def part_tls_tokens(t, L, pki, d):
    import grpc
    pb = lab.pb2()
    tokens = Path(d) / "tokens"
    tokens.write_text(f"# rtpproxy tokens\n{ADMIN} admin ops\n\n{READER} read monitor\n")
    tokens.chmod(0o600)
    audit = Path(d) / "audit.log"
    cfg = {"grpc": {"listen": f"[::]:{PORT}", "tls_cert": pki["server.pem"],
                    "tls_key": pki["server.key"], "tokens_file": tokens,
                    "allowed_peers": "127.0.0.0/8, 198.18.0.0/15",
                    "max_message_bytes": "4096"},
           "audit": {"file": audit}}
    fwd4 = lab.NetnsForwarder(L.dut, "127.0.0.1", PORT, f"/tmp/{L.prefix}-g4.sock")
    fwd6 = lab.NetnsForwarder(L.dut, "::1", PORT, f"/tmp/{L.prefix}-g6.sock")
    with fwd4, fwd6, lab.Appliance(L, cfg, channel_factory=lambda: tls_channel(
            fwd4.target(), pki["ca.pem"]), metadata=bearer(ADMIN)) as app:
        peer4 = r"127\.0\.0\.1:\d+"
        ok = grpc.StatusCode.OK
        UNAUTH = grpc.StatusCode.UNAUTHENTICATED
        t.check(True, "TLS with the right CA and the admin token: GetProxyStats answered")

        def fresh_audit():
            return audit_lines_of(audit.read_text()) if audit.exists() else []

        n0 = len(fresh_audit())
        t.eq(n0, 0, "reads are not audited (start-up's GetProxyStats calls)")

        # transport: plaintext and a wrong CA never reach the server
        plain = grpc.insecure_channel(fwd4.target())
        t.status(lab.Stub(plain, timeout=3, metadata=bearer(ADMIN)).GetProxyStats,
                 pb.GetProxyStatsRequest(), grpc.StatusCode.UNAVAILABLE,
                 "plaintext client against the TLS server: UNAVAILABLE")
        plain.close()
        wrong_ca = tls_channel(fwd4.target(), pki["other.pem"])
        t.status(lab.Stub(wrong_ca, timeout=3, metadata=bearer(ADMIN)).GetProxyStats,
                 pb.GetProxyStatsRequest(), grpc.StatusCode.UNAVAILABLE,
                 "TLS client trusting another CA: UNAVAILABLE")
        wrong_ca.close()

        ch = tls_channel(fwd4.target(), pki["ca.pem"])
        none = lab.Stub(ch)
        wrong = lab.Stub(ch, metadata=bearer(WRONG))
        reader = lab.Stub(ch, metadata=bearer(READER))
        admin = lab.Stub(ch, metadata=bearer(ADMIN))
        malformed = lab.Stub(ch, metadata=(("authorization", f"Basic {ADMIN}"),))

        # tokens and roles
        t.status(none.GetProxyStats, pb.GetProxyStatsRequest(), UNAUTH,
                 "no token: UNAUTHENTICATED", details_contains="Bearer TOKEN")
        t.status(wrong.GetProxyStats, pb.GetProxyStatsRequest(), UNAUTH,
                 "wrong token: UNAUTHENTICATED", details_contains="unknown token")
        t.status(malformed.GetProxyStats, pb.GetProxyStatsRequest(), UNAUTH,
                 "\"Basic\" instead of \"Bearer\": UNAUTHENTICATED")
        t.status(none.CreateSession, session_req(0), UNAUTH, "no token on Create: UNAUTHENTICATED")
        t.status(reader.CreateSession, session_req(0), grpc.StatusCode.PERMISSION_DENIED,
                 "read token on Create: PERMISSION_DENIED",
                 details_contains="has role read, the method needs admin")
        created = t.status(admin.CreateSession, session_req(0), ok, "admin token creates")
        sid = created.session.session_id if created else "?"
        t.check(len(sid) > 0, "the session got a generated id")
        got = t.status(reader.GetSessionStatus, pb.GetSessionStatusRequest(session_id=sid), ok,
                       "read token: GetSessionStatus")
        t.eq(got.session.session_id if got else None, sid, "read token sees the session")
        lst = t.status(reader.ListSessions, pb.ListSessionsRequest(), ok, "read token: ListSessions")
        t.eq([s.session_id for s in lst.sessions] if lst else None, [sid],
             "read token lists the session")
        t.status(reader.GetProxyStats, pb.GetProxyStatsRequest(), ok, "read token: GetProxyStats")
        stream = reader.StreamSessionEvents(pb.StreamSessionEventsRequest(session_id=sid),
                                            timeout=5)
        first = lab.rpc_status(lambda _req: next(stream), None)
        t.eq(first[0], ok, "read token: StreamSessionEvents")
        t.check(first[2] is not None and first[2].session_id == sid and
                first[2].WhichOneof("event") == "created",
                "... and its first event is the session's `created`", str(first[2]))
        stream.cancel()
        t.eq(lab.rpc_status(lambda _req: next(none.StreamSessionEvents(
            pb.StreamSessionEventsRequest(), timeout=5)), None)[0], UNAUTH,
            "no token: StreamSessionEvents UNAUTHENTICATED")
        t.status(reader.DestroySession, pb.DestroySessionRequest(session_id=sid),
                 grpc.StatusCode.PERMISSION_DENIED, "read token on Destroy: PERMISSION_DENIED")
        t.status(admin.DestroySession, pb.DestroySessionRequest(session_id=sid), ok,
                 "admin token destroys")
        t.status(admin.DestroySession, pb.DestroySessionRequest(session_id="no-such"),
                 grpc.StatusCode.NOT_FOUND, "admin: Destroy of an unknown id is NOT_FOUND")

        # peers: ::1 is outside allowed_peers, whatever the token
        ch6 = tls_channel(fwd6.target(), pki["ca.pem"])
        t.status(lab.Stub(ch6, metadata=bearer(ADMIN)).GetProxyStats, pb.GetProxyStatsRequest(),
                 UNAUTH, "peer ::1 outside allowed_peers: UNAUTHENTICATED",
                 details_contains="allowed_peers")
        ch6.close()

        # limits: grpc itself refuses a request over max_message_bytes
        big = session_req(1)
        big.labels["blob"] = "x" * 5000
        t.status(admin.CreateSession, big, grpc.StatusCode.RESOURCE_EXHAUSTED,
                 "a 5 KB request over max_message_bytes 4096: RESOURCE_EXHAUSTED")
        t.eq(admin.GetProxyStats(pb.GetProxyStatsRequest()).sessions_created_total, 1,
             "the big request created nothing")

        # the audit trail, line by line
        recs = lab.wait_until(lambda: fresh_audit() if len(fresh_audit()) >= 11 else None, 5) or []
        print(f"    audit: {len(recs)} lines")
        want = [
            (peer4, "", "GetProxyStats", "", "UNAUTHENTICATED", "no token"),
            (peer4, "", "GetProxyStats", "", "UNAUTHENTICATED", "wrong token"),
            (peer4, "", "GetProxyStats", "", "UNAUTHENTICATED", "malformed header"),
            (peer4, "", "CreateSession", "", "UNAUTHENTICATED", "Create without token"),
            (peer4, "monitor", "CreateSession", "", "PERMISSION_DENIED", "Create by read"),
            (peer4, "ops", "CreateSession", sid, "OK", "Create by admin"),
            # refused before its request was read: no session id
            (peer4, "", "StreamSessionEvents", "", "UNAUTHENTICATED", "stream without token"),
            (peer4, "monitor", "DestroySession", "", "PERMISSION_DENIED", "Destroy by read"),
            (peer4, "ops", "DestroySession", sid, "OK", "Destroy by admin"),
            (peer4, "ops", "DestroySession", "no-such", "NOT_FOUND", "Destroy unknown"),
            (r"\[::1\]:\d+", "", "GetProxyStats", "", "UNAUTHENTICATED", "peer ::1"),
        ]
        # (the big request never reached the dispatcher: grpc refused it, nothing to audit)
        t.eq(len(recs), len(want), "one audit line per refused, created or destroyed call")
        for rec, (peer, principal, method, s, code, desc) in zip(recs, want):
            check_audit(t, rec, f"audit[{desc}]", peer, principal, method, s, code)
        ports = {int(r["peer"].rsplit(":", 1)[1]) for r in recs[:-1] if "peer" in r}
        t.check(ports and ports <= set(fwd4.ports), "audit peers are the client's TCP ports",
                f"{ports} vs {fwd4.ports}")

        # rtpproxyctl against the secured server, from the dut namespace over TCP
        tokfile = Path(d) / "ctl-token"
        tokfile.write_text(f"# mine\n{ADMIN}\n")
        r = run_ctl(L, "--tls-ca", pki["ca.pem"], "--token-file", tokfile, "--json", "create",
                    "--listen", f"{lab.DUT0_ADDR}:21100", "--forward", f"{lab.DUT1_ADDR}:21100",
                    "--destination", f"{lab.DST_ADDR}:21100", "--id", "ctl-1")
        t.eq(r.returncode, 0, f"rtpproxyctl --tls-ca --token-file create ({r.stderr.strip()})")
        r = run_ctl(L, "--tls-ca", pki["ca.pem"], "--json", "get", "ctl-1",
                    env={"RTPPROXY_TOKEN": READER})
        t.eq(r.returncode, 0, f"rtpproxyctl get with RTPPROXY_TOKEN (read) ({r.stderr.strip()})")
        t.check("ctl-1" in r.stdout, "rtpproxyctl get shows the session", r.stdout[:200])
        r = run_ctl(L, "--tls-ca", pki["ca.pem"], "destroy", "ctl-1",
                    env={"RTPPROXY_TOKEN": READER})
        t.eq(r.returncode, 1, "rtpproxyctl destroy with a read token fails")
        t.check("PERMISSION_DENIED" in r.stderr, "... saying PERMISSION_DENIED", r.stderr.strip())
        r = run_ctl(L, "get", "ctl-1", env={"RTPPROXY_TOKEN": ADMIN})
        t.eq(r.returncode, 1, "rtpproxyctl in plaintext against the TLS server fails")

        # SIGHUP: a new tokens file; the audit file moved away (logrotate)
        tokens.write_text(f"{NEW_ADMIN} admin ops2\n{READER} read monitor\n")
        moved = Path(d) / "audit.log.1"
        audit.rename(moved)
        app.proc.send_signal(signal.SIGHUP)
        new_admin = lab.Stub(ch, metadata=bearer(NEW_ADMIN))
        got = lab.wait_until(lambda: lab.rpc_status(new_admin.GetProxyStats,
                                                    pb.GetProxyStatsRequest())[0] == ok, 5)
        t.check(got, "after SIGHUP the new token works")
        t.status(admin.GetProxyStats, pb.GetProxyStatsRequest(), UNAUTH,
                 "after SIGHUP the removed token is refused")
        c2 = t.status(new_admin.CreateSession, session_req(2), ok, "new admin token creates")
        sid2 = c2.session.session_id if c2 else "?"
        recs2 = lab.wait_until(lambda: fresh_audit() if len(fresh_audit()) >= 2 else None, 5) or []
        t.check(audit.exists(), "after SIGHUP a new audit file was written")
        t.eq([(r["method"], r["code"], r["principal"]) for r in recs2],
             [("GetProxyStats", "UNAUTHENTICATED", ""), ("CreateSession", "OK", "ops2")],
             "the new audit file has the calls after SIGHUP")
        t.eq(recs2[1]["session_id"] if len(recs2) > 1 else None, sid2, "... with the new session id")
        t.check(sid2 not in moved.read_text(), "the moved file got nothing after SIGHUP")

        # SIGHUP with a broken tokens file: the tokens in force stay
        tokens.write_text(f"{NEW_ADMIN} root ops2\n")
        app.proc.send_signal(signal.SIGHUP)
        logged = lab.wait_until(lambda: "SIGHUP: [grpc] tokens_file:" in app.log_text(), 5)
        t.check(logged, "a bad tokens file on SIGHUP is logged")
        t.check(f"SIGHUP: [grpc] tokens_file: {tokens}:1: ROLE: expected admin or read; the "
                "previous tokens stay in force" in app.log_text(),
                "... naming file, line and field", app.log_tail(5))
        t.status(new_admin.GetProxyStats, pb.GetProxyStatsRequest(), ok,
                 "after a bad SIGHUP the previous tokens still work")
        ch.close()

        t.check("open to other users" not in app.log_text(),
                "a tokens file of mode 0600 gives no warning")
        # nothing secret anywhere
        t.eq(app.stop(), 0, "rtpproxy exit code")
        texts = {"log": app.log_text(), "audit": audit.read_text() + moved.read_text()}
        for what, text in texts.items():
            leaked = [tok for tok in ALL_TOKENS if tok in text]
            t.eq(leaked, [], f"no token appears in the {what}")


def part_mtls(t, L, pki, d):
    import grpc
    pb = lab.pb2()
    cfg = {"grpc": {"listen": f"127.0.0.1:{PORT}", "tls_cert": pki["server.pem"],
                    "tls_key": pki["server.key"], "tls_client_ca": pki["ca.pem"]}}
    fwd = lab.NetnsForwarder(L.dut, "127.0.0.1", PORT, f"/tmp/{L.prefix}-gm.sock")
    with fwd, lab.Appliance(L, cfg, name="mtls", channel_factory=lambda: tls_channel(
            fwd.target(), pki["ca.pem"], pki["client.pem"], pki["client.key"])) as app:
        t.check(True, "mutual TLS with the client certificate: GetProxyStats answered")
        for desc, cert, key in (("no client certificate", None, None),
                                ("a client certificate of another CA", pki["stranger.pem"],
                                 pki["stranger.key"])):
            ch = tls_channel(fwd.target(), pki["ca.pem"], cert, key)
            t.status(lab.Stub(ch, timeout=3).GetProxyStats, pb.GetProxyStatsRequest(),
                     grpc.StatusCode.UNAVAILABLE, f"mutual TLS, {desc}: UNAVAILABLE")
            ch.close()
        c = t.status(app.stub.CreateSession, session_req(3), grpc.StatusCode.OK,
                     "mutual TLS: CreateSession")
        sid = c.session.session_id if c else "?"
        recs = lab.wait_until(lambda: audit_lines_of(app.log_text(), "AUDIT: ") or None, 5) or []
        t.eq(len(recs), 1, "one audit line, in the log (no [audit] file)")
        check_audit(t, recs[0] if recs else None, "audit[mTLS Create]", r"127\.0\.0\.1:\d+",
                    "ops-client", "CreateSession", sid, "OK")
        r = run_ctl(L, "--tls-ca", pki["ca.pem"], "--tls-cert", pki["client.pem"], "--tls-key",
                    pki["client.key"], "get", sid)
        t.eq(r.returncode, 0, f"rtpproxyctl with --tls-cert/--tls-key ({r.stderr.strip()})")
        r = run_ctl(L, "--tls-ca", pki["ca.pem"], "get", sid)
        t.eq(r.returncode, 1, "rtpproxyctl without a client certificate fails")
        t.eq(app.stop(), 0, "rtpproxy exit code")


def part_bad_key(t, L, pki):
    cfg = {"grpc": {"listen": f"127.0.0.1:{PORT}", "tls_cert": pki["server.pem"],
                    "tls_key": pki["client.key"]}}
    app = lab.Appliance(L, cfg, name="badkey")
    try:
        app.start()
        t.check(False, "a key that is not the certificate's stops start-up")
        app.stop()
    except lab.ApplianceError:
        t.check(True, "a key that is not the certificate's stops start-up")
        t.check("[grpc] tls_key: not the key of the certificate in [grpc] tls_cert"
                in app.log_text(), "... saying so", app.log_tail(5))


def part_bad_tokens(t, L, d):
    tokens = Path(d) / "bad-tokens"
    tokens.write_text(f"# ok so far\n{ADMIN} admin ops\n{READER} reader monitor\n")
    tokens.chmod(0o644)
    app = lab.Appliance(L, {"grpc": {"tokens_file": tokens}}, name="badtok")
    try:
        app.start()
        t.check(False, "a bad tokens file stops start-up")
        app.stop()
    except lab.ApplianceError:
        t.check(True, "a bad tokens file stops start-up")
        log = app.log_text()
        t.check(f"tokens_file: {tokens} is open to other users (mode 0644)" in log,
                "a tokens file others can read is warned of", app.log_tail(5))
        t.check(f"{tokens}:3: ROLE: expected admin or read" in log,
                "the error names file, line and field", app.log_tail(5))
        t.eq([tok for tok in ALL_TOKENS if tok in log], [], "and shows no token")


def body(t):
    with tempfile.TemporaryDirectory(prefix="rtpproxy-sec-") as d:
        pki = make_pki(d)
        with lab.Lab() as L:
            t.run("TLS, tokens, peers, limits, audit file, SIGHUP, rtpproxyctl",
                  part_tls_tokens, t, L, pki, d)
            t.run("mutual TLS, audit to the log", part_mtls, t, L, pki, d)
            t.run("a bad tokens file", part_bad_tokens, t, L, d)
            t.run("a key that is not the certificate's", part_bad_key, t, L, pki)


if __name__ == "__main__":
    lab.main_wrapper("grpc_security", body)
