"""The process environment every test runs in: moto's dummy credentials, the service's
settings, Powertools quiet. Imported (for its effect) before any handler or Powertools import:
they read these once."""

from __future__ import annotations

import os

# Before any handler or Powertools import: they read these once.
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "af-south-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "lift-alerts",
        "POWERTOOLS_METRICS_NAMESPACE": "LiftAlerts",
        "POWERTOOLS_DEV": "false",
        "ALERTS_TABLE": "lift-alerts-test",
        "EVENT_BUS_NAME": "lift-alerts-test-bus",
        "APP_SECRET_ID": "lift-alerts-test-secret",
        # The key of the desk list's cursors (SPEC 13): a secret of its own.
        "CURSOR_SECRET_ID": "lift-alerts-test-cursor",
        # The service-wide send budget (SPEC 11) at a hundredth of Woosh's windows: tests that
        # send more than 100 messages stay fast. Local stacks take the template's value (1).
        "WOOSH_RATE_TIME_SCALE": "0.01",
        "WOOSH_RATE_GUARD_MS": "0",
        "WOOSH_RATE_MINUTE_GUARD_MS": "0",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
