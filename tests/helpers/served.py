"""A tool run as a real server process on a free port of 127.0.0.1 (tools/serve.py): started, checked up,
stopped."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import REPO
from tests.helpers.tool_runs import wait_for


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; the server binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``python tools/<tool> args... --port <free port>`` from the repo root, its output in ``log``; ready
    once GET /health answers 200."""

    def __init__(self, tool: str, *args: str, log: Path, env: dict[str, str] | None = None,
                 timeout: float = 180) -> None:
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.log = log
        environment = dict(os.environ, OMP_NUM_THREADS='2', PYTHONWARNINGS='ignore', **(env or {}))
        with open(log, 'w') as output:
            command = [sys.executable, f'tools/{tool}', *args, '--port', str(self.port)]
            self.process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=output,
                                            stderr=subprocess.STDOUT)
        try:
            wait_for(self.healthy, timeout, f'{self.url}/health', self.process)
        except AssertionError as error:
            self.stop()
            raise AssertionError(f'{error}\n{self.log_tail()}') from None

    def healthy(self) -> bool:
        try:
            return httpx.get(f'{self.url}/health', timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def alive(self) -> bool:
        return self.process.poll() is None and self.healthy()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text()[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
