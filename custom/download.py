"""Download one file safely: atomic rename, checksum check, clear offline errors."""

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

CHUNK_BYTES = 1 << 20


class DownloadError(RuntimeError):
    """A download failed; the message says what failed and where to put the file by hand.

    ``reason`` holds the cause alone, so callers can re-word the advice.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class ChecksumError(DownloadError):
    """The server answered, but with bytes that do not match the expected digest."""


def _network_error(url: str, dest: Path, reason: str) -> DownloadError:
    return DownloadError(f'could not download {url}: {reason}. '
                         f'Download it by other means and put it at {dest.resolve()}', reason)


def file_digest(path: Path, algorithm: str = 'sha256') -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b''):
            digest.update(chunk)
    return digest.hexdigest()


def digest_matches(actual: str, expected: str) -> bool:
    """``expected`` is a full hex digest or a leading prefix of one (OpenMMLab names carry 8 digits)."""
    return actual.lower().startswith(expected.strip().lower())


def _checksum_problems(path: Path, sha256: str | None, md5: str | None) -> list[str]:
    problems = []
    for algorithm, expected in (('sha256', sha256), ('md5', md5)):
        if expected:
            actual = file_digest(path, algorithm)
            if not digest_matches(actual, expected):
                problems.append(f'{algorithm} mismatch: expected {expected}, got {actual}')
    return problems


def _stream_to(response, out, url: str, dest: Path) -> None:
    """Copy the response body into ``out``; a body shorter than its Content-Length is an error."""
    length = response.headers.get('Content-Length')
    total = int(length) if length and length.isdigit() else None
    received = 0
    with tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024, desc=dest.name,
              disable=total is None, leave=False) as progress:
        while chunk := response.read(CHUNK_BYTES):
            out.write(chunk)
            received += len(chunk)
            progress.update(len(chunk))
    if total is not None and received != total:
        raise _network_error(url, dest, f'connection closed after {received} of {total} bytes')


def download_file(url: str, dest: Path, sha256: str | None = None, timeout: float = 30,
                  md5: str | None = None) -> Path:
    """Download ``url`` to ``dest`` and return ``dest``.

    The bytes go to a temporary file next to ``dest`` that is renamed only once complete and verified, so
    ``dest`` never holds a partial file. ``sha256``/``md5`` are full hex digests or leading prefixes of them.
    An existing ``dest`` is kept without a request when it matches the checksums (or when none is given).
    """
    dest = Path(dest)
    if dest.is_file():
        if not _checksum_problems(dest, sha256, md5):
            return dest
        print(f'{dest} exists but fails its checksum; downloading it again')
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f'.{dest.name}.', suffix='.part')
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, 'wb') as out:
            request = urllib.request.Request(url, headers={'User-Agent': 'mmdet-pennfudan-downloader'})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    _stream_to(response, out, url, dest)
            except urllib.error.HTTPError as err:
                raise _network_error(url, dest, f'the server answered HTTP {err.code} {err.reason}') from err
            except urllib.error.URLError as err:
                raise _network_error(url, dest, f'network error ({err.reason}); are you offline?') from err
            except (OSError, http.client.HTTPException) as err:  # timeouts, resets, bad responses
                raise _network_error(url, dest, f'{type(err).__name__}: {err}') from err
        problems = _checksum_problems(tmp, sha256, md5)
        if problems:
            raise ChecksumError(f'downloaded {url} but it is not the expected file: {"; ".join(problems)}. '
                                f'Nothing was saved at {dest}')
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
