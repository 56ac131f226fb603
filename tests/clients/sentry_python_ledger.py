"""The official Python sentry-sdk capturing messages at a steady pace through fault windows.

argv: DSN, stop_at (epoch ms), big_from, big_until (epoch ms: events captured in between carry
a 70 KB extra, so the collector keeps them in R2), interval_ms.

Prints one JSON object per line: {"captured": id, "big": bool} for each capture, and
{"status": n, "event_ids": [...], "discarded": [...]} for each answer the SDK's own transport
handles (observed by subclassing it; what it does with the answer is unchanged).
"""

import json
import sys
import threading
import time

import sentry_sdk
from sentry_sdk.transport import HttpTransport


_emit_lock = threading.Lock()


def emit(obj):
    # One write per line under a lock: the transport's thread and the capturing thread both emit.
    with _emit_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


class LedgerTransport(HttpTransport):
    def _handle_response(self, response, envelope):
        ids, discarded = [], []
        if envelope is not None:
            if envelope.headers.get("event_id"):
                ids.append(envelope.headers["event_id"])
            for item in envelope.items:
                if item.type == "client_report":
                    discarded.extend((item.payload.json or {}).get("discarded_events", []))
        emit({"status": response.status, "event_ids": ids, "discarded": discarded, "at": int(time.time() * 1000)})
        return super()._handle_response(response, envelope)


def main():
    dsn, stop_at, big_from, big_until, interval_ms = sys.argv[1], *map(int, sys.argv[2:6])
    sentry_sdk.init(dsn=dsn, transport=LedgerTransport, release="py-ledger@1", traces_sample_rate=0)
    n = 0
    while time.time() * 1000 < stop_at:
        now = time.time() * 1000
        big = big_from <= now < big_until and n % 3 == 0
        with sentry_sdk.new_scope() as scope:
            if big:
                scope.set_extra("blob", "x" * 70_000)
            event_id = sentry_sdk.capture_message(f"py ledger {n}", level="info")
        emit({"captured": event_id, "big": big})
        n += 1
        time.sleep(interval_ms / 1000)
    sentry_sdk.flush(timeout=15)
    emit({"done": n})


if __name__ == "__main__":
    main()
