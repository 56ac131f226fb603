"""A Python backend using the official sentry-sdk, changed only by its DSN (argv[1]).

Prints the ids of the events it sent, one JSON object on stdout.
"""

import json
import sys

import sentry_sdk


def charge_card(amount):
    raise ValueError(f"card declined for amount {amount}")


def main():
    sentry_sdk.init(dsn=sys.argv[1], release="api@3.1.0", environment="e2e", traces_sample_rate=0)
    sentry_sdk.set_user({"id": "42", "email": "py@example.com"})
    sentry_sdk.set_tag("service", "billing")
    sentry_sdk.add_breadcrumb(category="db", message="SELECT cart", level="info")
    try:
        charge_card(99)
    except ValueError:
        exception_id = sentry_sdk.capture_exception()
    message_id = sentry_sdk.capture_message("nightly job finished", level="info")
    sentry_sdk.flush(timeout=10)
    print(json.dumps({"exception_id": exception_id, "message_id": message_id}))


if __name__ == "__main__":
    main()
