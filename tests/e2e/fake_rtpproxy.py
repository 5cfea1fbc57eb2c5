#!/usr/bin/python3
"""A stand-in for build/app/rtpproxy that only serves GetProxyStats over gRPC.

It exists to test the harness (lab.Appliance: start-up wait, log capture, clean-stop checks)
without the real appliance; test_lab.py uses it. FAKE_RTPPROXY_MODE picks a behaviour:
  ok       serve until SIGTERM, then exit 0
  exit1    print an error and exit 1 at start-up
  hang     serve, and ignore SIGTERM
  badexit  serve, exit 3 on SIGTERM
"""
import configparser
import os
import signal
import sys
import threading
from concurrent import futures
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grpc  # noqa: E402
import lab   # noqa: E402


def main():
    mode = os.environ.get("FAKE_RTPPROXY_MODE", "ok")
    conf = sys.argv[sys.argv.index("-c") + 1]
    print(f"fake rtpproxy: mode {mode}, config {conf}, log level {os.environ.get('RTPPROXY_LOG')}",
          flush=True)
    if mode == "exit1":
        print(f"{conf}: [grpc] listen: fake start-up failure", file=sys.stderr, flush=True)
        return 1
    cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"))
    cp.read(conf)
    listen = cp["grpc"]["listen"]
    pb = lab.pb2()

    def stats(_req, _ctx):
        return pb.GetProxyStatsResponse(version="fake", uptime_ms=1)

    handler = grpc.method_handlers_generic_handler("rtpproxy.RtpProxy", {
        "GetProxyStats": grpc.unary_unary_rpc_method_handler(
            stats, request_deserializer=pb.GetProxyStatsRequest.FromString,
            response_serializer=pb.GetProxyStatsResponse.SerializeToString)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(listen)
    server.start()
    print(f"fake rtpproxy: serving on {listen}", flush=True)

    done = threading.Event()
    if mode == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait(120)                          # bounded, like everything in the tests
    server.stop(1).wait(5)
    print("fake rtpproxy: stopped", flush=True)
    return 3 if mode == "badexit" else 0


if __name__ == "__main__":
    sys.exit(main())
