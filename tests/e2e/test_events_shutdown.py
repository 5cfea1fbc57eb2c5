#!/usr/bin/python3
"""e2e_events_shutdown: SIGTERM with 3000 sessions open and a stream for every session: the
stream gets state_changed(->CLOSED) and closed{reason "shutdown"} for every one of them (more
than a stream's queue holds at once: rtpproxy closes them in batches while the stream drains),
then ends with OK, and rtpproxy exits 0.
"""
import sys
import threading
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import DST_ADDR, DUT0_ADDR, DUT1_ADDR  # noqa: E402

N = 3000


def body(t):
    pb = lab.pb2()
    with lab.Lab() as L, lab.Appliance(L) as app:
        ep = lambda a, p: pb.Endpoint(address=a, port=p)  # noqa: E731
        futs = [app.stub.CreateSession.raw.future(pb.CreateSessionRequest(
            listen_endpoint=ep(DUT0_ADDR, 0), forward_endpoint=ep(DUT1_ADDR, 0),
            destination_endpoint=ep(DST_ADDR, 40000)), timeout=60) for _ in range(N)]
        created = sum(1 for f in futs if f.result() is not None)
        t.eq(created, N, "sessions created")

        # a channel of its own: the harness closes its channel when rtpproxy stops
        channel = grpc.insecure_channel(f"unix:{app.sock}")
        stream = channel.unary_stream(
            "/rtpproxy.RtpProxy/StreamSessionEvents",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=pb.SessionEvent.FromString)(pb.StreamSessionEventsRequest())
        seen = {"created": 0, "to_closed": 0, "closed_shutdown": 0, "other": 0, "end": None}

        def read():
            try:
                for e in stream:
                    kind = e.WhichOneof("event")
                    if kind == "created":
                        seen["created"] += 1
                    elif kind == "state_changed" and e.state_changed.new_state == \
                            pb.SESSION_STATE_CLOSED:
                        seen["to_closed"] += 1
                    elif kind == "closed" and e.closed.reason == "shutdown":
                        seen["closed_shutdown"] += 1
                    else:
                        seen["other"] += 1
                seen["end"] = "OK"
            except grpc.RpcError as err:
                seen["end"] = err.code().name

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        t.check(lab.wait_until(lambda: seen["created"] == N, 30),
                "the snapshot has every session", str(seen["created"]))
        started = time.monotonic()
        t.eq(app.stop(), 0, "rtpproxy exit code")
        print(f"    stop took {time.monotonic() - started:.1f} s")
        reader.join(20)
        t.eq(seen["to_closed"], N, "state_changed(->CLOSED) for every session")
        t.eq(seen["closed_shutdown"], N, "closed{shutdown} for every session")
        t.eq(seen["other"], 0, "no other events")
        t.eq(seen["end"], "OK", "the stream ended with OK")
        channel.close()


if __name__ == "__main__":
    lab.main_wrapper("events_shutdown", body)
