"""A moto server on 127.0.0.1 that records every request it receives and can inject faults."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server


@dataclass(frozen=True)
class Reply:
    """A complete response a hook sends instead of moto's: any status, body and headers (e.g. a DeleteObjects
    200 whose body lists per-key <Error> entries)."""

    status: int
    body: bytes = b""
    content_type: str = "application/xml"
    headers: tuple[tuple[str, str], ...] = ()


# fault(method, path, headers) -> None to pass through, (status, code, message) to fail the request with an S3-style
# XML error, or a Reply for a full custom response
Fault = Callable[[str, str, dict[str, str]], "tuple[int, str, str] | Reply | None"]


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""  # read only while an `intercept` hook is set


# intercept(request with its body) -> same answers as a Fault; consulted before `fault`
Intercept = Callable[[Request], "tuple[int, str, str] | Reply | None"]


def _error_reply(status: int, code: str, message: str) -> tuple[str, bytes]:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>").encode()
    return f"{status} {code}", body


@dataclass
class Recorder:
    """WSGI middleware: logs requests and applies the current fault hooks."""

    app: Any
    log: list[Request] = field(default_factory=list)
    fault: Fault | None = None
    intercept: Intercept | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        req = Request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), headers)
        with self.lock:
            fault, intercept = self.fault, self.intercept
        drained = False
        if intercept is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length > 0:  # read exactly the body (never read(-1)), then hand moto an equal stream
                req.body = environ["wsgi.input"].read(length)
                environ["wsgi.input"] = io.BytesIO(req.body)
            drained = True
        with self.lock:
            self.log.append(req)
        hit = intercept(req) if intercept is not None else None
        if hit is None and fault is not None:
            hit = fault(req.method, req.path, headers)
        if hit is None:
            return self.app(environ, start_response)
        if isinstance(hit, Reply):
            status = f"{hit.status} {HTTPStatus(hit.status).phrase}"
            body, extra = hit.body, [("Content-Type", hit.content_type), *hit.headers]
        else:
            status, body = _error_reply(*hit)
            extra = [("Content-Type", "application/xml")]
        start_response(status, [*extra, ("Content-Length", str(len(body)))])
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > 0 and not drained:  # drain the body (never read(-1): that waits for the client to hang up)
            environ["wsgi.input"].read(length)
        return [body]

    def clear(self) -> None:
        with self.lock:
            self.log.clear()

    def writes(self) -> list[Request]:
        """Requests that change state."""
        return [r for r in self.log if r.method in ("PUT", "POST", "DELETE", "PATCH")]


class RecordingMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer with the Recorder in front of moto's app."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.recorder = Recorder(DomainDispatcherApplication(create_backend_app))

    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        class Quiet(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        self._server = make_server(self._ip_address, self._port, self.recorder, True, request_handler=Quiet)
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"
