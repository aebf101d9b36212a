"""Loopback stand-ins for Tempo, Mimir and Loki that record what Alloy sends them.

- ``TraceSink``: an OTLP gRPC TraceService (what ``otelcol.exporter.otlp`` speaks), on grpcio with
  raw bytes, decoded by alloy_wire;
- ``HttpSink``: one HTTP server for Prometheus remote write (``/api/v1/push``) and Loki push
  (``/loki/api/v1/push``), both snappy-compressed protobuf.

All listen on 127.0.0.1 on a port the OS picks; the tests start and stop them (context managers).
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self, TypeVar

import alloy_wire
import grpc

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

T = TypeVar("T")
TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


class Recorder:
    """Decoded items in arrival order, and a bounded wait for the ones a test looks for."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._changed = threading.Condition()

    def add(self, items: list[Any]) -> None:
        with self._changed:
            self._items += items
            self._changed.notify_all()

    def wait_for(self, wanted: Callable[[Any], bool], what: str, timeout: float = 60.0) -> list[Any]:
        """Every recorded item ``wanted`` accepts, once there is one; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [item for item in self._items if wanted(item)]
                left = deadline - time.monotonic()
                if found or left <= 0:
                    break
                self._changed.wait(left)
        assert found, f"no {what} arrived within {timeout:.0f}s; received: {self._items!r}"[:4000]
        return found


class TraceSink:
    """OTLP gRPC on 127.0.0.1: ``endpoint`` is host:port for the exporter's ``client.endpoint``."""

    def __init__(self) -> None:
        self.spans = Recorder()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.unary_unary_rpc_method_handler(self._export)  # raw bytes in and out
        self._server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(TRACE_SERVICE, {"Export": handler})]
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"127.0.0.1:{self.port}"

    def _export(self, request: bytes, _context: Any) -> bytes:
        self.spans.add(alloy_wire.trace_request(request))
        return b""  # an empty ExportTraceServiceResponse: everything accepted

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.stop(grace=None).wait(10)


class HttpSink:
    """Remote write and Loki push on 127.0.0.1; ``url`` is the server's base URL."""

    def __init__(self) -> None:
        self.series = Recorder()
        self.entries = Recorder()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                decode = {"/api/v1/push": sink.series, "/loki/api/v1/push": sink.entries}.get(self.path)
                if decode is None:
                    self.send_response(404)
                elif self.path == "/api/v1/push":
                    decode.add(alloy_wire.write_request(body))
                    self.send_response(200)
                else:
                    decode.add(alloy_wire.push_request(body))
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:  # keep pytest's output to the assertions
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
