"""HTTP concerns shared by the API handlers: JSON bodies, errors, 405 for known paths."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import ValidationError

from lift_alerts.platform.observability import logger


class BadRequest(Exception):
    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status_code = status_code
        self.body = body


def json_response(status_code: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status_code,
        content_type="application/json",
        body=json.dumps(body, ensure_ascii=False),
        headers=headers,
    )


def resolve(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`app.resolve`, with the request's id (`requestContext.requestId`) as every log line's
    `correlation_id`: what `correlation_paths.API_GATEWAY_HTTP` gives, without a JMESPath
    search per request. Call it inside `logger.inject_lambda_context(clear_state=True)`."""
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    request_id = request_context.get("requestId") if isinstance(request_context, dict) else None
    logger.set_correlation_id(request_id)
    return app.resolve(event, context)


def raw_body(event: BaseProxyEvent) -> bytes:
    """The body's bytes as the client sent them (API Gateway may base64-encode it)."""
    body = event.body
    if body is None:
        return b""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise BadRequest(400, {"message": "body is not valid base64"}) from exc
    # surrogatepass: a lone surrogate survives to be refused as invalid UTF-8, not to crash here.
    return body.encode("utf-8", errors="surrogatepass")


def parse_json(raw: bytes, *, limit: int) -> Any:
    if len(raw) > limit:
        raise BadRequest(413, {"message": f"body larger than {limit // 1024} KiB"})
    if not raw.strip():
        raise BadRequest(400, {"message": "a JSON body is required"})
    try:
        text = raw.decode("utf-8")
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise BadRequest(400, {"message": "body is not valid UTF-8"}) from exc
    except (ValueError, RecursionError) as exc:
        raise BadRequest(400, {"message": "body is not valid JSON"}) from exc


def validation_errors(exc: ValidationError) -> dict[str, Any]:
    """A 400 body naming each bad field, e.g. `recipients.1` or `escalation.after_seconds`."""
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"]) or "body"
        message = str(error["msg"]).removeprefix("Value error, ")
        errors.append({"field": location, "message": message})
    return {"message": "invalid request", "errors": errors}


# A path parameter as the Powertools resolver matches it: a path the resolver could not route
# because of its characters (or a trailing slash) is an unknown route (404), never a 405
# that names the very method the caller used.
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"


def allowed_methods(path: str, routes: dict[str, set[str]]) -> set[str] | None:
    """The methods a known path takes ({param} matches one segment), or None if unknown."""
    for pattern, methods in routes.items():
        segments = (_SEGMENT if part.startswith("{") else re.escape(part) for part in pattern.split("/"))
        if re.fullmatch("/".join(segments), path):
            return methods
    return None


def route_not_found(path: str, routes: dict[str, set[str]]) -> Response[str]:
    """404 for an unknown path; 405 with `Allow` for a known path asked with another method."""
    methods = allowed_methods(path, routes)
    if methods is None:
        return json_response(404, {"message": "Not Found"})
    return json_response(
        405, {"message": "Method Not Allowed"}, headers={"Allow": ", ".join(sorted(methods))}
    )


def register_http_errors(
    app: APIGatewayHttpResolver,
    routes: dict[str, set[str]],
    *,
    validation_is_bad_input: bool,
    fault_message: str,
) -> None:
    """One set of HTTP error answers for both APIs: 404/405, 4xx for bad input, 503 for faults.

    `validation_is_bad_input`: a pydantic ValidationError escaping a route is the caller's
    bad input (400 naming each field). The webhook says False: there, one escaping is our
    fault, and a 503 makes the sender retry rather than drop a tap.
    """

    def not_found(_exc: Exception) -> Response[str]:
        return route_not_found(app.current_event.path, routes)

    def bad_request(exc: BadRequest) -> Response[str]:
        return json_response(exc.status_code, exc.body)

    def invalid(exc: ValidationError) -> Response[str]:
        return json_response(400, validation_errors(exc))

    def unexpected(_exc: Exception) -> Response[str]:
        logger.exception(fault_message)
        return json_response(503, {"message": "temporarily unavailable, please retry"})

    app.not_found(not_found)
    app.exception_handler(BadRequest)(bad_request)
    if validation_is_bad_input:
        app.exception_handler(ValidationError)(invalid)
    app.exception_handler(Exception)(unexpected)


# Inline <script> and <style> elements (the desk page inlines its script, style and settings).
_INLINE = re.compile(r"<(script|style)\b([^>]*)>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)


def html_response(html: str, *, connect_to: list[str]) -> Response[str]:
    """A page with a Content-Security-Policy that allows exactly its own inline scripts and
    styles (by their SHA-256), fetches to its own origin and `connect_to`, and nothing else:
    no other script, no framing, no form posts. The page holds no data; this keeps anything
    injected into it from running or sending the desk's token elsewhere."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for tag, attributes, body in _INLINE.findall(html):
        if "src=" not in attributes.lower():
            digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
            hashes[tag.lower()].append(f"'sha256-{digest}'")
    none = "'none'"
    scripts = " ".join(hashes["script"]) or none
    styles = " ".join(hashes["style"]) or none
    connect = " ".join(["'self'", *connect_to])
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}",
            f"style-src {styles}",
            f"connect-src {connect}",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=html,
        headers={
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )
