"""Download one file safely: atomic rename, checksum check, clear offline errors."""

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from custom.errors import ChecksumError, DataError, DownloadError

CHUNK_BYTES = 1 << 20


def _network_error(url: str, dest: Path, reason: str) -> DownloadError:
    return DownloadError(f'could not download {url}: {reason}. '
                         f'Download it by other means and put it at {dest.resolve()}', reason)


def file_digests(path: Path, algorithms: list[str]) -> dict[str, str]:
    """Hex digests of a file for each algorithm, all from one chunked read."""
    digests = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b''):
            for digest in digests.values():
                digest.update(chunk)
    return {algorithm: digest.hexdigest() for algorithm, digest in digests.items()}


def file_digest(path: Path, algorithm: str = 'sha256') -> str:
    """Hex digest of a file, read in chunks."""
    return file_digests(path, [algorithm])[algorithm]


def digest_matches(actual: str, expected: str) -> bool:
    """``expected`` is a full hex digest or a leading prefix of one (OpenMMLab names carry 8 digits)."""
    return actual.lower().startswith(expected.strip().lower())


def checksum_problems(path: Path, sha256: str | None = None, md5: str | None = None,
                      digests: dict[str, str] | None = None) -> list[str]:
    """'<algorithm> mismatch: expected E, got A' for each given checksum ``path`` fails; [] when it passes.

    The file is read once, and not at all when no checksum is given and no ``digests`` dict is passed to
    receive the computed digests (the sha256 is then always among them, so nobody hashes the file twice).
    """
    expected = {'sha256': sha256, 'md5': md5}
    want_sha256 = bool(sha256) or digests is not None
    algorithms = (['sha256'] if want_sha256 else []) + (['md5'] if md5 else [])
    if not algorithms:
        return []
    actual = file_digests(path, algorithms)
    if digests is not None:
        digests.update(actual)
    return [f'{algorithm} mismatch: expected {expected[algorithm]}, got {actual[algorithm]}'
            for algorithm in algorithms
            if expected[algorithm] and not digest_matches(actual[algorithm], expected[algorithm])]


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


def _report_sha256(dest: Path, digests: dict[str, str] | None) -> None:
    if digests is not None:
        print(f'sha256 of {dest}: {digests["sha256"]} (pin it to verify this file from now on)')


def download_file(url: str, dest: Path, sha256: str | None = None, timeout: float = 30,
                  md5: str | None = None, on_mismatch: str = 'redownload',
                  print_sha256: bool = False) -> Path:
    """Download ``url`` to ``dest`` and return ``dest``.

    The bytes go to a temporary file next to ``dest`` that is renamed only once complete and verified, so
    ``dest`` never holds a partial file. ``sha256``/``md5`` are full hex digests or leading prefixes of them.
    An existing ``dest`` is kept without a request when it matches the checksums (or when none is given);
    when it does not, ``on_mismatch='redownload'`` downloads it again and ``'raise'`` raises a DataError
    naming the file (for files the user put there by hand). ``print_sha256`` prints the sha256 of the
    file that ends up at ``dest``, computed by the same read that checks it.
    """
    if on_mismatch not in ('redownload', 'raise'):
        raise ValueError(f"on_mismatch must be 'redownload' or 'raise', got {on_mismatch!r}")
    dest = Path(dest)
    digests: dict[str, str] | None = {} if print_sha256 else None
    if dest.is_file():
        problems = checksum_problems(dest, sha256, md5, digests)
        if not problems:
            print(f'using {dest} (no download)')
            _report_sha256(dest, digests)
            return dest
        if on_mismatch == 'raise':
            raise DataError(dest, f'{"; ".join(problems)}: the file is damaged or not the expected one; '
                                  'delete it to download it again')
        print(f'{dest} exists but fails its checksum; downloading it again')
    print(f'downloading {url} -> {dest}')
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
        problems = checksum_problems(tmp, sha256, md5, digests)
        if problems:
            raise ChecksumError(f'downloaded {url} but it is not the expected file: {"; ".join(problems)}. '
                                f'Nothing was saved at {dest}')
        os.replace(tmp, dest)
        _report_sha256(dest, digests)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
