"""A bounded HTTP server on 127.0.0.1 serving fake files, and a URL where nothing listens."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SERVER_LIFETIME_S = 60


class FakeServer:
    """Serves ``files`` (URL path -> bytes), 404 otherwise; records the paths asked for."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.truncate: set[str] = set()  # paths whose body is cut in half after a full Content-Length
        self.mid_body_hook = None  # called between the two halves of each body
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, 'Not Found')
                    return
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                half = len(body) // 2
                self.wfile.write(body[:half])
                self.wfile.flush()
                if server.mid_body_hook is not None:
                    server.mid_body_hook()
                if self.path not in server.truncate:
                    self.wfile.write(body[half:])
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05},
                                       daemon=True)
        self.stopper = threading.Timer(SERVER_LIFETIME_S, self.httpd.shutdown)  # never outlives a stuck test
        self.stopper.daemon = True

    def serve(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return self.url + path


@pytest.fixture
def server():
    fake = FakeServer()
    fake.thread.start()
    fake.stopper.start()
    yield fake
    fake.stopper.cancel()
    fake.httpd.shutdown()
    fake.httpd.server_close()


@pytest.fixture
def dead_url():
    """A URL on a local port where nothing listens (connection refused): the port stays bound, not listening,
    for the whole test, so no other process (a test on the other pytest-xdist worker) can listen on it."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        yield f'http://127.0.0.1:{sock.getsockname()[1]}/PennFudanPed.zip'
