"""A tool run as a real server process on 127.0.0.1 (tools/serve.py): started on a port it picks itself,
checked up, stopped."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import REPO
from tests.helpers.tool_runs import TOOL_TIMEOUT, wait_for

# What uvicorn logs once it listens; with --port 0 it names the port the OS gave it.
LISTENING = re.compile(r'Uvicorn running on http://127\.0\.0\.1:(\d+) ')
HEALTH_TIMEOUT = 30  # GET /health on 2 loaded cores, with margin


class ServerProcess:
    """``python tools/<tool> args... --port 0`` from the repo root, its output in ``log``; ready once it logs
    the port it listens on and GET /health there answers 200. The server binds the port itself, so no other
    process (a test on the other pytest-xdist worker) can take it between a pick and the bind."""

    def __init__(self, tool: str, *args: str, log: Path, env: dict[str, str] | None = None,
                 timeout: float = TOOL_TIMEOUT) -> None:
        self.port = 0
        self.url = ''
        self.log = log
        environment = dict(os.environ, OMP_NUM_THREADS='2', PYTHONWARNINGS='ignore', **(env or {}))
        with open(log, 'w') as output:
            command = [sys.executable, f'tools/{tool}', *args, '--port', '0']
            self.process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=output,
                                            stderr=subprocess.STDOUT)
        try:
            wait_for(self.started, timeout, 'the server to log its port and answer GET /health', self.process)
        except AssertionError as error:
            self.stop()
            raise AssertionError(f'{error}\n{self.log_tail()}') from None

    def started(self) -> bool:
        if not self.port:
            found = LISTENING.search(self.log.read_text())
            if found is None:
                return False
            self.port = int(found[1])
            self.url = f'http://127.0.0.1:{self.port}'
        return self.healthy()

    def healthy(self) -> bool:
        try:
            return httpx.get(f'{self.url}/health', timeout=HEALTH_TIMEOUT).status_code == 200
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
