"""Atomic file writes, for every layer that writes a file a reader or a killed run must never meet half of
(checkpoints, results.json, drafts for labelling tools, drawn images)."""

import glob
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np


def write_atomic(path: Path, data: bytes) -> None:
    """Writes to a temporary file beside `path`, flushes it to disk, then renames it over `path`.

    The temporary file is named ``.<name>.<pid>.<random>.tmp``. A process killed with SIGKILL while writing
    cannot remove its own; the next write of the same path removes those of writers no longer running.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.{os.getpid()}.', suffix='.tmp')
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_image(path: Path, image: np.ndarray) -> None:
    """Writes a BGR image (as OpenCV reads it) in the format its suffix names, atomically. In place of
    ``cv2.imwrite``, which returns False instead of raising when it cannot write (an unknown suffix, a full
    disk, a missing folder): the image would be lost without a word."""
    try:
        ok, encoded = cv2.imencode(path.suffix, image)
    except cv2.error as error:
        raise ValueError(f'{path}: OpenCV cannot write this image as {path.suffix!r}: {error}') from None
    if not ok:
        raise ValueError(f'{path}: OpenCV cannot write this image as {path.suffix!r}')
    write_atomic(path, encoded.tobytes())


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Removes ``.<name>.<pid>.*.tmp`` beside `path` left by writers that are no longer running."""
    removed = []
    for tmp in path.parent.glob(f'.{glob.escape(path.name)}.*.tmp'):
        pid = tmp.name[len(path.name) + 2:].split('.', 1)[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
