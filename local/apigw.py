"""API Gateway HTTP API (payload format 2.0) in front of in-process handlers, like `sam local start-api`.

Routes come from the functions' `HttpApi` events. Route selection follows API Gateway:
the most specific path wins (literal segment > `{param}` > `{proxy+}`), then an exact
method over `ANY`; no match is `404 {"message":"Not Found"}`. The request becomes the
event API Gateway would send; the handler's result is mapped back the same way
(statusCode/headers/cookies/body/isBase64Encoded, or a bare value as a 200 JSON body).
"""

from __future__ import annotations

import base64
import json
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from werkzeug.wrappers import Request, Response

from local.template import Template, iter_http_routes

API_ID = "local"
MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's request size limit
# How a handler that raised is logged (`[local api] SendFunction raised:` and the traceback):
# tests/support/stack_log.py finds these in a stack's log.
CRASH_PREFIX, CRASH_SUFFIX = "[local api] ", " raised:"
# The claims API Gateway hands on from a Cognito access token, for a local desk user.
LOCAL_DESK_USER = {
    "sub": "00000000-0000-4000-8000-00000000d35c",
    "iss": "https://cognito-idp.af-south-1.amazonaws.com/af-south-1_local",
    "client_id": "localdeskclient",
    "token_use": "access",
    "scope": "openid email",
    "username": "local-desk-user",
}
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded|graphql)|)$"
)


@dataclass(frozen=True)
class Route:
    method: str  # GET, POST..., or ANY
    path: str  # /alerts/{alert_id}, /{proxy+} or $default
    function: str
    payload_format: str = "2.0"
    iam_auth: bool = False
    # A JWT authorizer (the desk's Cognito users): the event carries a local user's claims. The
    # local stack checks no token (SPEC §13: the desk without sign-in on 127.0.0.1).
    jwt_auth: bool = False

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        if self.path == "$default":
            return {}
        want = [s for s in self.path.split("/") if s]
        have = path.split("/")[1:] if path != "/" else []
        params: dict[str, str] = {}
        for index, segment in enumerate(want):
            if segment.startswith("{") and segment.endswith("+}"):
                rest = "/".join(have[index:])
                if not rest:
                    return None
                params[segment[1:-2]] = rest
                return params
            if index >= len(have):
                return None
            if segment.startswith("{") and segment.endswith("}"):
                if not have[index]:
                    return None
                params[segment[1:-1]] = have[index]
            elif segment != have[index]:
                return None
        return params if len(have) == len(want) else None

    def specificity(self) -> tuple[Any, ...]:
        if self.path == "$default":
            return ((-1,), 0)
        ranks = tuple(
            0 if s.endswith("+}") else 1 if s.startswith("{") else 2 for s in self.path.split("/") if s
        )
        return (ranks, 1 if self.method != "ANY" else 0)


def template_routes(template: Template) -> list[Route]:
    """Every HttpApi event of every function in the template, as a route."""
    routes = []
    for method, path, function, event in iter_http_routes(template.functions()):
        auth = (event.properties.get("Auth") or {}).get("Authorizer")
        version = str(event.properties.get("PayloadFormatVersion", "2.0"))
        jwt = auth not in (None, "AWS_IAM", "NONE")
        routes.append(Route(method, path, function, version, iam_auth=auth == "AWS_IAM", jwt_auth=jwt))
    return routes


def select_route(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    best: tuple[Route, dict[str, str]] | None = None
    for route in routes:
        params = route.match(method, path)
        if params is None:
            continue
        if best is None or route.specificity() > best[0].specificity():
            best = (route, params)
    return best


def _is_text(content_type: str) -> bool:
    return bool(_TEXT_TYPES.match(content_type.split(";", maxsplit=1)[0].strip().lower()))


def build_event(
    request: Request,
    route: Route,
    path_parameters: Mapping[str, str],
    *,
    account_id: str,
    now: float | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The API Gateway HTTP API payload 2.0 event for a request (`now`/`request_id` fix them for files)."""
    raw_path = request.path
    raw_query = request.query_string.decode("latin-1")
    headers, cookies = _headers_and_cookies(request)
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = time.time() if now is None else now
    request_id = request_id or base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    request_context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": API_ID,
        "domainName": request.host,
        "domainPrefix": request.host.split(".")[0].split(":")[0],
        "http": {
            "method": request.method,
            "path": raw_path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": request.remote_addr or "127.0.0.1",
            "userAgent": request.headers.get("User-Agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if route.iam_auth:
        request_context["authorizer"] = {
            "iam": {
                "accessKey": "LOCALACCESSKEY",
                "accountId": account_id,
                "callerId": "LOCALCALLER",
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{account_id}:user/local-caller",
                "userId": "LOCALCALLER",
            }
        }
    if route.jwt_auth:
        request_context["authorizer"] = {"jwt": {"claims": LOCAL_DESK_USER, "scopes": ["openid", "email"]}}
    event["requestContext"] = request_context
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event.update(_body_fields(request))
    return event


def _headers_and_cookies(request: Request) -> tuple[dict[str, str], list[str]]:
    """Headers as API Gateway passes them (lower-case names, a repeated header's values joined
    by commas, the forwarding headers it adds) and the cookies, which it passes apart."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers.items():
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.setdefault("x-forwarded-for", request.remote_addr or "127.0.0.1")
    headers.setdefault("x-forwarded-proto", "http")
    return headers, cookies


def _body_fields(request: Request) -> dict[str, Any]:
    """`body` and `isBase64Encoded`: a text type's UTF-8 body as is, anything else in base64."""
    body = request.get_data(cache=False)
    if not body:
        return {"isBase64Encoded": False}
    text: str | None = None
    if _is_text(request.headers.get("Content-Type", "")):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    return {
        "body": text if text is not None else base64.b64encode(body).decode(),
        "isBase64Encoded": text is None,
    }


def request_event(
    routes: Iterable[Route],
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    account_id: str,
) -> dict[str, Any]:
    """The event API Gateway would hand a function for this request, without a server.

    The route is the template's (route key and path parameters as deployed); a path no route
    matches keeps its literal route key, for calling a handler with a request API Gateway
    itself would refuse.
    """
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        method=method,
        # Percent-encoded as it travels on the wire: a decoded "?" or "#" in a path parameter
        # must not start a query string or a fragment.
        path=quote(path, safe="/%:@!$&'()*+,;=~"),
        query_string=urlencode(dict(query or {})),
        headers=list((headers or {}).items()),
        data=body or b"",
    )
    try:
        request = Request(builder.get_environ())
    finally:
        builder.close()
    selected = select_route(routes, method, path)
    route, params = selected if selected is not None else (Route(method, path, function=""), {})
    return build_event(request, route, params, account_id=account_id)


def map_result(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of the HTTP response for a handler's result (format 2.0)."""
    if isinstance(result, dict) and "statusCode" in result:
        status = int(result["statusCode"])
        headers: list[tuple[str, str]] = []
        for name, value in (result.get("headers") or {}).items():
            headers.append((str(name), str(value)))
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), str(value)) for value in values)
        headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
        body = result.get("body")
        if body is None:
            raw = b""
        elif result.get("isBase64Encoded"):
            raw = base64.b64decode(str(body))
        else:
            raw = str(body).encode("utf-8")
        if not any(name.lower() == "content-type" for name, _ in headers) and raw:
            headers.append(("Content-Type", "application/json"))
        return status, headers, raw
    return 200, [("Content-Type", "application/json")], json.dumps(result).encode("utf-8")


def _message(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")


class HttpApiApp:
    """A WSGI app: requests → route → event → `invoke(function, event)` → response."""

    def __init__(
        self, routes: list[Route], invoke: Callable[[str, dict[str, Any]], Any], *, account_id: str
    ) -> None:
        self.routes = routes
        self._invoke = invoke
        self._account_id = account_id

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        response.headers["apigw-requestid"] = response.headers.get("apigw-requestid") or uuid.uuid4().hex[:16]
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return _message(413, "Request Entity Too Large")
        selected = select_route(self.routes, request.method, request.path)
        if selected is None:
            return _message(404, "Not Found")
        route, params = selected
        event = build_event(request, route, params, account_id=self._account_id)
        if len(json.dumps(event)) > MAX_EVENT_BYTES:
            return _message(413, "Request Entity Too Large")
        try:
            result = self._invoke(route.function, event)
            status, headers, body = map_result(result)
        except Exception:  # the handler crashed: API Gateway answers 500
            print(f"{CRASH_PREFIX}{route.function}{CRASH_SUFFIX}\n{traceback.format_exc()}", file=sys.stderr)
            return _message(500, "Internal Server Error")
        response = Response(body, status=status)
        response.headers.clear()
        for name, value in headers:
            response.headers.add(name, value)
        return response
