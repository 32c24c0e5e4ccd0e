"""Pure tests: what a failed end-to-end test shows of its stack's log."""

from __future__ import annotations

from tests.support.stack_log import crashes

LOG = """\
{"level": "INFO", "message": "alert sent"}
[local api] WebhookFunction raised:
Traceback (most recent call last):
  File "local/apigw.py", line 280, in dispatch
    answer = handler(event, context)
KeyError: 'requestContext'
{"level": "INFO", "message": "webhook processed"}
[local pumps] stream handler for alerts raised TimeoutError: read timed out
"""


def test_a_handler_traceback_is_shown_up_to_the_next_log_record() -> None:
    assert crashes(LOG) == (
        "[local api] WebhookFunction raised:\n"
        "Traceback (most recent call last):\n"
        '  File "local/apigw.py", line 280, in dispatch\n'
        "    answer = handler(event, context)\n"
        "KeyError: 'requestContext'"
    )


def test_a_log_without_crashes_shows_nothing() -> None:
    assert crashes('{"level": "INFO", "message": "alert sent"}\n') == ""
