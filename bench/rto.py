"""The RTO clock's resolution: a health endpoint down for exactly T seconds, as the availability prober sees it."""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.measure import AvailabilityProber, RecoveryClock


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        up = getattr(self.server, "up", True)
        self.send_response(200 if up else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def outage_error(outage_s: float) -> dict[str, float]:
    """Take the endpoint down for `outage_s`; return what the prober measured and its error."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    clock = RecoveryClock()
    prober = AvailabilityProber(f"http://127.0.0.1:{server.server_address[1]}/health",
                                interval_s=clock.resolution_s).start()
    try:
        time.sleep(1.0 + random.uniform(0, clock.resolution_s))  # no alignment with the probe ticks
        server.up = False  # type: ignore[attr-defined]
        down = time.monotonic()
        while time.monotonic() - down < outage_s:
            time.sleep(0.001)
        server.up = True  # type: ignore[attr-defined]
        time.sleep(1.0)
        report = prober.stop()
    finally:
        prober.stop()
        server.shutdown()
        server.server_close()
    return {"outage_s": outage_s, "measured_s": report.longest_outage_s,
            "error_s": abs(report.longest_outage_s - outage_s), "probe_interval_s": clock.resolution_s}
