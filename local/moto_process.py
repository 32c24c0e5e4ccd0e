"""moto server in a process of its own (`local.child_server`), serving on a socket the local
stack has already bound.

With moto in the stack's process, one interpreter lock served a hundred concurrent handlers
AND every AWS call they make, and under a mass alarm moto's answers took longer than
botocore's 5 s read timeout. In its own process moto has an interpreter (and a core) of its
own. It is still moto server, as before: only where it runs changed.

`python -m local.moto_process --fd N` is the child; `moto_server()` is the parent's handle on it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import threading
from typing import Any

from local.child_server import ChildServer, inherited_listener, serve_until_stopped
from local.serving import LOOPBACK


def moto_server(*, name: str, host: str = LOOPBACK, port: int = 0) -> ChildServer:
    """moto server on host:port (0 = any free port) in a child process, until `stop()`."""
    return ChildServer(name=name, module="local.moto_process", host=host, port=port)


def _route_key(environ: dict[str, Any]) -> tuple[str, ...] | None:
    """What decides which of moto's backend apps answers a SigV4-signed request: the
    credential scope's region and service, the X-Amz-Target service, the path and the host
    (`DomainDispatcherApplication.infer_service_region_host`). None: not signed."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split(",")[0].split()[1].split("/")
    except IndexError:
        return None
    if len(scope) != 5:
        return None
    target = str(environ.get("HTTP_X_AMZ_TARGET", "")).split(".", 1)[0]
    return (scope[2], scope[3], target, str(environ.get("PATH_INFO", "")), str(environ.get("HTTP_HOST", "")))


def dispatcher() -> Any:
    """moto server's WSGI app, remembering which backend app answers which kind of request.

    moto finds the app for every request anew under one lock, listing its ~200 service
    packages on disk and matching hundreds of URL patterns: under a mass alarm the requests
    queued on that lock more than on DynamoDB itself. The answer depends only on what
    `_route_key` reads, so it is looked up once per key."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class RememberingDispatcher(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self.routes: dict[tuple[str, ...], Any] = {}

        def get_application(self, environ: dict[str, Any]) -> Any:
            key = _route_key(environ)
            if key is None:
                return super().get_application(environ)
            app = self.routes.get(key)
            if app is None:
                app = self.routes[key] = super().get_application(environ)
            return app

    return RememberingDispatcher()


def serve(fd: int, parent: int | None) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    from local.moto_atomic import prepare_moto

    # DynamoDB's per-item atomicity, which the race guarantees rest on, and its item answers
    # rendered as plain JSON, where moto now runs.
    prepare_moto()

    def quiet(self: MotoRequestHandler, type: str, message: str, *args: object) -> None:
        return

    handler = type("QuietMotoRequestHandler", (MotoRequestHandler,), {"log": quiet})
    listener = inherited_listener(fd)
    host, port = listener.getsockname()[:2]
    server = make_server(
        host,
        port,
        dispatcher(),
        threaded=True,
        request_handler=handler,
        fd=listener.fileno(),
    )
    listener.detach()  # werkzeug serves on its own duplicate; the original stays open, unused
    # moto's modules and models live as long as the process: out of the collector's way, so a
    # full collection scans the tables' data only (`local.lambda_runtime` does the same).
    gc.freeze()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    serve_until_stopped(parent)
    with contextlib.suppress(Exception):
        server.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moto server on an inherited listening socket")
    parser.add_argument("--fd", type=int, required=True, help="listening socket to serve on")
    parser.add_argument("--parent", type=int, help="exit when this process is no longer our parent")
    args = parser.parse_args(argv)
    serve(args.fd, args.parent)
    sys.stdout.flush()
    # Skip the final garbage collection of moto's heap, which alone takes seconds.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
