"""Two requests resolved at once in one process (the local stack's function instances) each
see their own event in Powertools' resolver (`local.router_isolation`)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from local.apigw import Route, build_event
from local.router_isolation import isolate_router_state


def test_concurrent_resolvers_each_route_and_read_their_own_event() -> None:
    isolate_router_state()
    both_resolving = threading.Barrier(2, timeout=10)
    apps = [APIGatewayHttpResolver(), APIGatewayHttpResolver()]  # two instances of one function

    for app in apps:

        @app.post("/alerts")
        def post(app: APIGatewayHttpResolver = app) -> dict[str, Any]:
            # Both requests are inside resolve() now: each set the current event already.
            both_resolving.wait()
            return {"body": app.current_event.body, "class_sees": BaseRouter.current_event.body}

    def resolve(index: int) -> dict[str, Any]:
        from werkzeug.test import EnvironBuilder
        from werkzeug.wrappers import Request

        request = Request(EnvironBuilder(method="POST", path="/alerts", data=f"alarm {index}").get_environ())
        event = build_event(request, Route("POST", "/alerts", "SendFunction"), {}, account_id="123456789012")
        return apps[index].resolve(event, None)  # type: ignore[arg-type]

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(resolve, [0, 1]))
    assert [a["statusCode"] for a in answers] == [200, 200]
    assert [a["body"] for a in answers] == [
        '{"body":"alarm 0","class_sees":"alarm 0"}',
        '{"body":"alarm 1","class_sees":"alarm 1"}',
    ]
