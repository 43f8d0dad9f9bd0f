"""A moto server on 127.0.0.1 that records every request it receives and can inject faults."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

# fault(method, path, headers) -> None to pass through, or (status, code, message) to fail the request
Fault = Callable[[str, str, dict[str, str]], tuple[int, str, str] | None]


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class Recorder:
    """WSGI middleware: logs requests and applies the current fault hook."""

    app: Any
    log: list[Request] = field(default_factory=list)
    fault: Fault | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        req = Request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), headers)
        with self.lock:
            self.log.append(req)
            fault = self.fault
        if fault is not None:
            hit = fault(req.method, req.path, headers)
            if hit is not None:
                status, code, message = hit
                body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                        f"<Message>{message}</Message></Error>").encode()
                start_response(f"{status} {code}", [("Content-Type", "application/xml"),
                                                     ("Content-Length", str(len(body)))])
                length = int(environ.get("CONTENT_LENGTH") or 0)
                if length > 0:  # drain the body (never read(-1): that waits for the client to hang up)
                    environ["wsgi.input"].read(length)
                return [body]
        return self.app(environ, start_response)

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
        from moto.server import MotoRequestHandler  # type: ignore[attr-defined]

        class Quiet(MotoRequestHandler):  # type: ignore[misc, valid-type]
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        self._server = make_server(self._ip_address, self._port, self.recorder, True, request_handler=Quiet)
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"
