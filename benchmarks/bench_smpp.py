"""SMPP throughput: windowing against a 10 ms ack latency, and TPS pacing.

The simulator runs in a child process so the client does not share its GIL. For each window W
the ceiling is W / latency messages per second; the figures are fractions of that ceiling.
Run: PYTHONPATH=. python benchmarks/bench_smpp.py
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smpp import wire  # noqa: E402
from smpp.client import SmppClient  # noqa: E402
from smpp.config import ClientConfig  # noqa: E402
from smpp.messages import OutgoingMessage, SubmitResult  # noqa: E402

LATENCY = 0.010
SERVER = """
import sys
from smpp.simulator import run_simulator
run_simulator("127.0.0.1", 0, "bench", "bench", ack_latency_s={latency}, replies=False,
              receipts={receipts}, ready=lambda port: print(port, flush=True))
"""


def start_simulator(*, receipts: bool) -> tuple[subprocess.Popen[str], int]:
    """Start the simulator in a child process and return it with its port."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(latency=LATENCY, receipts=receipts)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def run(port: int, *, window: int, count: int, tps: float | None = None) -> tuple[float, int]:
    """Send count messages; return messages/s (first submit to last ack) and failures."""
    done = threading.Event()
    acks: list[float] = []
    failures = 0

    def on_submitted(result: SubmitResult) -> None:
        nonlocal failures
        acks.append(time.perf_counter())
        failures += not result.ok
        if len(acks) == count:
            done.set()

    client = SmppClient(ClientConfig("127.0.0.1", port, "bench", "bench", source_addr="10655",
                                     window=window, tps=tps), on_submitted=on_submitted)
    client.start()
    assert client.wait_bound(5)
    started = time.perf_counter()
    for i in range(count):
        client.submit(OutgoingMessage(f"b{i}", f"86138{i:08d}", f"请对本次服务评价 {i}", ref=i % 256))
    assert done.wait(120), f"only {len(acks)} of {count} acked"
    elapsed = acks[-1] - started
    client.stop()
    if tps:
        # Measure the steady rate between acks, leaving out the initial token burst.
        return (count - 1) / (acks[-1] - acks[0]), failures
    return count / elapsed, failures


def bare_socket_rate(port: int, *, window: int, count: int) -> float:
    """The simulator's own ceiling: a minimal blocking-socket ESME with no queue, thread or codec."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(wire.build("bind_transceiver", sequence=1, system_id="bench", password="bench"))
    frames = wire.FrameBuffer()
    frames.feed(sock.recv(4096))
    assert (resp := frames.next_frame()) is not None and wire.header(resp).status == wire.ROK
    pdu = wire.submit_sm(source_addr_ton=0, source_addr_npi=0, source_addr="10655", dest_addr_ton=1,
                         dest_addr_npi=1, destination_addr="8613800000000", esm_class=0,
                         data_coding=8, registered_delivery=0, short_message="请评价".encode("utf-16-be"))
    sent = acked = 0
    started = time.perf_counter()
    while acked < count:
        while sent - acked < window and sent < count:
            sent += 1
            sock.sendall(pdu[:12] + (sent + 1).to_bytes(4, "big") + pdu[16:])
        frames.feed(sock.recv(65536))
        while frames.next_frame() is not None:
            acked += 1
    rate = count / (time.perf_counter() - started)
    sock.close()
    return rate


def main() -> None:
    proc, port = start_simulator(receipts=False)
    figures: dict[str, float] = {}
    try:
        run(port, window=10, count=300)  # warm-up
        print(f"ack latency {LATENCY * 1000:.0f} ms, simulator in a child process, receipts off")
        for window, count in ((1, 300), (10, 3000), (50, 6000)):
            rate, failures = run(port, window=window, count=count)
            limit = window / LATENCY
            figures[f"w{window}"] = rate
            print(f"W={window:<3} {rate:8.1f} msg/s  limit {limit:6.0f}  "
                  f"{rate / limit:6.1%} of limit  ({count} messages, {failures} failed)")
        bare = bare_socket_rate(port, window=10, count=3000)
        print(f"bare socket ESME, W=10: {bare:8.1f} msg/s  {bare / (10 / LATENCY):6.1%} of limit; "
              f"the client reaches {figures['w10'] / bare:.1%} of it")
        ratio = figures["w10"] / figures["w1"]
        print(f"W=10 / W=1 = {ratio:.1f}x")
        rate, failures = run(port, window=10, count=600, tps=200)
        print(f"TPS=200, W=10: {rate:.1f} msg/s ({rate / 200 - 1:+.1%} off 200; {failures} failed)")
        goals = {"W=10 >= 90% of limit": figures["w10"] >= 0.9 * 10 / LATENCY,
                 "W=10 >= 8x W=1": ratio >= 8, "TPS=200 within 5%": abs(rate / 200 - 1) <= 0.05}
    finally:
        proc.terminate()
        proc.wait(5)
    # With receipts every message costs two more PDUs each way (deliver_sm and its resp).
    proc, port = start_simulator(receipts=True)
    try:
        rate, failures = run(port, window=10, count=3000)
        print(f"receipts on: W=10 {rate:8.1f} msg/s  {rate / (10 / LATENCY):6.1%} of limit "
              f"({failures} failed)")
    finally:
        proc.terminate()
        proc.wait(5)
    print(json.dumps(goals))


if __name__ == "__main__":
    main()
