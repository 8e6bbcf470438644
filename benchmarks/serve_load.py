"""Load test of tools/serve.py: requests/s and latency percentiles at several client counts, errors, the
server's memory before and after, and the same under a mix of bad requests. Figures: docs/serving.md.

httpx with asyncio rather than locust: httpx is already the tests' client (requirements.txt), one process
holds 16 connections at once without threads, and the server (a CPU detector, 0.1-2 s a request) is far
slower than this client can send, so the client is not what is measured; locust would add gevent and a web
UI for no figure that this does not give.

Start a server, then run from the repo root (loopback only: the script refuses any other host):
    SERVE_API_KEY=k .venv/bin/python tools/serve.py configs/pennfudan_demo_cpu.py CHECKPOINT --no-access-log &
    SERVE_API_KEY=k .venv/bin/python -m benchmarks.serve_load --data-root ../shared/data/PennFudanPed \
        --server-pid $! --clients 1 4 16 --requests 100 --max-seconds 120
Closed loop: each client sends its next request once the last is answered, and after a 503 it waits what
Retry-After says. Each level stops at --requests or --max-seconds, whichever comes first.

Memory over a long run (--soak): one level of --clients clients sending that many requests (a --bad-share of
them bad), the server's RSS read after every --sample-every; --max-seconds then bounds the whole soak:
    SERVE_API_KEY=k .venv/bin/python -m benchmarks.serve_load --data-root ../shared/data/PennFudanPed \
        --server-pid $! --clients 4 --soak 10000 --sample-every 500 --bad-share 0 --max-seconds 3600
"""

import argparse
import asyncio
import datetime
import json
import os
import platform
import random
import statistics
import struct
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import httpx
import numpy as np

from custom.data_tools.demo_data import generate_demo_dataset
from custom.errors import ConfigError, MissingFileError, report_user_errors

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')
LOOPBACK = {'127.0.0.1', 'localhost', '::1'}


def png_bomb(width: int = 8000, height: int = 8000) -> bytes:
    """A PNG whose header says width x height (192 MB of pixels at 8000x8000) in a few KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

    pixels = zlib.compress(b'\0' * (1 + 3 * width) * 100, 9)
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', pixels) + chunk(b'IEND', b'')


@dataclass
class Request:
    """One request to send: its kind, the multipart files, whether it carries the key, the status it should
    get (a good image: 200)."""

    kind: str
    files: dict
    expected: int
    with_key: bool = True


def bad_requests(image: bytes, with_key: bool) -> list[Request]:
    """The bad requests of the mix, each with the status the server is meant to answer."""
    bad = [Request('not-an-image', {'file': ('a.png', b'plain text, not an image')}, 415),
           Request('truncated', {'file': ('a.png', image[:len(image) // 2])}, 422),
           Request('bomb', {'file': ('a.png', png_bomb())}, 413),
           Request('wrong-field', {'image': ('a.png', image)}, 400),
           Request('empty', {'file': ('a.png', b'')}, 400)]
    if with_key:
        bad.append(Request('no-key', {'file': ('a.png', image)}, 401, with_key=False))
    return bad


@dataclass
class Level:
    """What one run of closed-loop clients measured."""

    name: str
    clients: int
    sent: int = 0
    seconds: float = 0.0
    ok_latencies_ms: list[float] = field(default_factory=list)
    busy: int = 0  # 503 with Retry-After: the queue was full
    as_expected: dict[str, int] = field(default_factory=dict)  # bad requests answered as they should be
    unexpected: dict[str, int] = field(default_factory=dict)  # 'kind status' -> count: the errors
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rss_mb_after: float | None = None

    def summary(self) -> dict:
        latencies = sorted(self.ok_latencies_ms)

        def percentile(share: float) -> float | None:
            if not latencies:
                return None
            return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))], 1)

        return {'name': self.name, 'clients': self.clients, 'sent': self.sent, 'ok': len(latencies),
                'busy_503': self.busy, 'errors': sum(self.unexpected.values()), 'unexpected': self.unexpected,
                'bad_as_expected': self.as_expected, 'seconds': round(self.seconds, 1),
                'ok_per_s': round(len(latencies) / self.seconds, 2) if self.seconds else 0.0,
                'p50_ms': percentile(0.50), 'p95_ms': percentile(0.95), 'p99_ms': percentile(0.99),
                'mean_ms': round(statistics.fmean(latencies), 1) if latencies else None,
                'load_average': self.load_average, 'rss_mb_after': self.rss_mb_after}


def rss_mb(pid: int | None) -> float | None:
    """The resident memory of process ``pid`` now, from /proc (Linux)."""
    if pid is None:
        return None
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return round(int(line.split()[1]) / 1024, 1)
    return None


async def run_level(url: str, key: str | None, level: Level, requests: list[Request], bad_share: float,
                    bad: list[Request], count: int, max_seconds: float, seed: int = 0) -> Level:
    """``level.clients`` closed-loop clients send ``count`` requests (a share ``bad_share`` of them from
    ``bad``) or stop after ``max_seconds``."""
    rng = random.Random(seed)
    plan = [rng.choice(bad) if rng.random() < bad_share else requests[index % len(requests)]
            for index in range(count)]
    plan.reverse()
    deadline = time.monotonic() + max_seconds
    headers = {'X-API-Key': key} if key else {}

    async def client_loop(client: httpx.AsyncClient) -> None:
        while plan and time.monotonic() < deadline:
            request = plan.pop()
            started = time.perf_counter()
            response = await client.post('/predict', files=request.files,
                                         headers=headers if request.with_key else {})
            elapsed_ms = 1000 * (time.perf_counter() - started)
            level.sent += 1
            if response.status_code == 503 and 'Retry-After' in response.headers:
                level.busy += 1
                plan.append(request)  # sent again after the wait the server asked for
                await asyncio.sleep(float(response.headers['Retry-After']))
            elif response.status_code == request.expected == 200:
                level.ok_latencies_ms.append(elapsed_ms)
            elif response.status_code == request.expected:
                level.as_expected[request.kind] = level.as_expected.get(request.kind, 0) + 1
            else:
                name = f'{request.kind} {response.status_code}'
                level.unexpected[name] = level.unexpected.get(name, 0) + 1

    limits = httpx.Limits(max_connections=level.clients, max_keepalive_connections=level.clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(level.clients)))
        level.seconds = time.perf_counter() - started
    level.load_average = tuple(round(value, 2) for value in os.getloadavg())
    return level


def run_soak(url: str, key: str | None, clients: int, good: list[Request], bad: list[Request],
             bad_share: float, total: int, every: int, max_seconds: float, pid: int | None) -> list[dict]:
    """``total`` requests in rounds of ``every``, each round a closed-loop level of ``clients`` clients; after
    each, the server's RSS and the round's figures. Stops early once ``max_seconds`` have passed."""
    deadline = time.monotonic() + max_seconds
    samples: list[dict] = []
    sent = answered = 0
    while answered < total and time.monotonic() < deadline:
        level = Level(f'soak round {len(samples) + 1}', clients)
        asyncio.run(run_level(url, key, level, good, bad_share, bad, min(every, total - answered),
                              deadline - time.monotonic(), seed=len(samples)))
        sent += level.sent
        answered += level.sent - level.busy
        summary = level.summary()
        figures = ('ok', 'busy_503', 'errors', 'unexpected', 'seconds', 'ok_per_s', 'p50_ms', 'p99_ms',
                   'load_average')
        samples.append({'requests': answered, 'sent_with_retries': sent, 'rss_mb': rss_mb(pid),
                        **{name: summary[name] for name in figures},
                        'bad_as_expected': sum(level.as_expected.values())})
        print(json.dumps(samples[-1]), flush=True)
    return samples


def load_images(data_root: str | None, count: int) -> list[bytes]:
    """The bytes of up to ``count`` image files of data_root (or its PNGImages/), or of synthetic Penn-Fudan
    images when there is no data_root."""
    if data_root is None:
        folder = Path(tempfile.mkdtemp(prefix='serve_load_'))
        generate_demo_dataset(folder, n_images=count, size=(160, 128), seed=0)
        data_root = str(folder)
    root = Path(data_root)
    if not root.is_dir():
        raise MissingFileError(f'{root}: no such folder')
    folder = root / 'PNGImages' if (root / 'PNGImages').is_dir() else root
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)[:count]
    if not files:
        raise ConfigError(f'{folder}: no {"/".join(IMAGE_SUFFIXES)} images')
    return [path.read_bytes() for path in files]


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ConfigError(f'--url {url}: this load test sends traffic to this machine only '
                          f'({", ".join(sorted(LOOPBACK))})')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Load test of tools/serve.py on this machine '
                                                 '(docs/serving.md)')
    parser.add_argument('--url', default='http://127.0.0.1:8000', help='the server (loopback only)')
    parser.add_argument('--data-root', help='images to send: a folder of them or a Penn-Fudan root '
                                            '(PNGImages/); default: synthetic 160x128 images')
    parser.add_argument('--images', type=int, default=20, help='how many different images (default 20)')
    parser.add_argument('--clients', type=int, nargs='+', default=[1, 4, 16],
                        help='concurrent clients of each level (with --soak: one number)')
    parser.add_argument('--requests', type=int, default=100, help='requests per level (default 100)')
    parser.add_argument('--max-seconds', type=float, default=120,
                        help='at most this long per level (with --soak: for the whole soak)')
    parser.add_argument('--bad-share', type=float, default=0.5,
                        help='share of bad requests in the mix level (default 0.5; 0: no mix level)')
    parser.add_argument('--mix-clients', type=int, default=4, help='clients of the mix level (default 4)')
    parser.add_argument('--soak', type=int, metavar='REQUESTS',
                        help='instead of the levels: this many requests, the RSS read every --sample-every')
    parser.add_argument('--sample-every', type=int, default=500,
                        help='with --soak: requests between RSS reads (default 500)')
    parser.add_argument('--server-pid', type=int, help="the server's process id, for its memory (RSS)")
    parser.add_argument('--api-key', default=os.environ.get('SERVE_API_KEY'),
                        help='the key the server needs (default $SERVE_API_KEY)')
    parser.add_argument('--out', help='also write the figures to this JSON file')
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_loopback(args.url)
    if args.soak is not None and (len(args.clients) != 1 or args.soak < 1 or args.sample_every < 1):
        raise ConfigError('--soak takes one --clients number, and --soak and --sample-every must be positive')
    images = load_images(args.data_root, args.images)
    good = [Request('image', {'file': (f'{index}.png', data)}, 200) for index, data in enumerate(images)]
    bad = bad_requests(images[0], bool(args.api_key))
    health = httpx.get(f'{args.url}/health', timeout=10).json()
    model = httpx.get(f'{args.url}/model', timeout=10,
                      headers={'X-API-Key': args.api_key} if args.api_key else {}).json()
    sizes = sorted({cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape[:2]
                    for data in images})
    report = {'when': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
              'where': f'{platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}',
              'command': 'python -m benchmarks.serve_load ' + ' '.join(sys.argv[1:] if argv is None
                                                                       else argv),
              'model': {key: model.get(key) for key in ('name', 'backend', 'input', 'runtime')},
              'limits': health['limits'], 'images': {'count': len(images), 'sizes_hw': sizes[:3]},
              'load_average_before': os.getloadavg(), 'rss_mb_before': None, 'levels': []}
    asyncio.run(run_level(args.url, args.api_key, Level('warmup', 1), good, 0, bad, 3, 120))
    report['rss_mb_before'] = rss_mb(args.server_pid)
    if args.soak is not None:
        report['soak'] = run_soak(args.url, args.api_key, args.clients[0], good, bad, args.bad_share,
                                  args.soak, args.sample_every, args.max_seconds, args.server_pid)
        report['requests_total'] = report['soak'][-1]['requests'] if report['soak'] else 0
        report['load_average_after'] = os.getloadavg()
        print(json.dumps({key: value for key, value in report.items() if key != 'soak'}, indent=1))
        if args.out:
            Path(args.out).write_text(json.dumps(report, indent=1))
        return
    levels = [Level(f'{clients} clients', clients) for clients in args.clients]
    if args.bad_share > 0:
        levels.append(Level(f'mix {args.bad_share:.0%} bad, {args.mix_clients} clients', args.mix_clients))
    for level in levels:
        share = args.bad_share if level.name.startswith('mix') else 0.0
        asyncio.run(run_level(args.url, args.api_key, level, good, share, bad, args.requests,
                              args.max_seconds))
        level.rss_mb_after = rss_mb(args.server_pid)
        report['levels'].append(level.summary())
        print(json.dumps(report['levels'][-1]), flush=True)
    report['requests_total'] = sum(level.sent for level in levels)
    print(json.dumps({key: value for key, value in report.items() if key != 'levels'}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == '__main__':
    sys.exit(main())
