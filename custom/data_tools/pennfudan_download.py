"""Fetch the Penn-Fudan archive, unpack it safely, check its layout and write the default splits."""

import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from custom.data_tools.splitting import source_images, write_splits
from custom.datasets.pennfudan import DEFAULT_SPLIT, LAYOUT, MASK_SUFFIX, SPLIT_DIR, pennfudan_source
from custom.download import download_file
from custom.errors import ChecksumError, DataError, DownloadError

OFFICIAL_URL = 'https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip'
# MD5 of the official PennFudanPed.zip as published by the Avalanche library (ContinualAI/avalanche,
# avalanche/benchmarks/datasets/penn_fudan/penn_fudan_data.py), which verifies its downloads against it.
PUBLISHED_MD5 = '5aaa3dee905cef73325923716e38fc6d'
# No published sha256 was found; pin it here once computed (prepare_pennfudan prints it).
EXPECTED_SHA256: str | None = None
OFFICIAL_IMAGE_COUNT = 170
DEFAULT_ROOT = Path('data/PennFudanPed')


def safe_extract(zip_path: Path, target_dir: Path) -> None:
    """Extract ``zip_path`` into ``target_dir``; refuse the whole archive if any entry would land outside."""
    target = target_dir.resolve()
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            pure = PurePosixPath(name.replace('\\', '/'))
            inside = (target / pure).resolve().is_relative_to(target)
            if pure.is_absolute() or '..' in pure.parts or ':' in name or not inside:
                raise DataError(zip_path, f'unsafe entry {name!r} would be written outside {target_dir}; '
                                          'refusing to extract this archive')
        archive.extractall(target)


def check_layout(root: Path, expected_images: int | None = None) -> int:
    """Check that the image, mask and annotation folders of ``LAYOUT`` hold files for the same stems.

    Returns the number of images.
    """
    suffixes = {'img': '.png', 'mask': MASK_SUFFIX, 'ann': '.txt'}
    stems: dict[str, set[str]] = {}
    for key, suffix in suffixes.items():
        folder = root / LAYOUT[key]
        if not folder.is_dir():
            raise DataError(folder, f'folder is missing (expected {", ".join(LAYOUT.values())})')
        stems[key] = {p.name.removesuffix(suffix) for p in folder.glob(f'*{suffix}')}
    images = stems['img']
    if not images:
        raise DataError(root / LAYOUT['img'], 'contains no .png images')
    for key in ('mask', 'ann'):
        folder = root / LAYOUT[key]
        if stems[key] != images:
            missing = sorted(images - stems[key])[:5]
            extra = sorted(stems[key] - images)[:5]
            raise DataError(folder, f'{len(stems[key])} files for {len(images)} images '
                                           f'(no file for: {missing}; no image for: {extra})')
    if expected_images is not None and len(images) != expected_images:
        raise DataError(root, f'{len(images)} images, but the official archive has {expected_images}')
    return len(images)


def _obtain_zip(zip_path: Path, url: str, sha256: str | None, md5: str | None, timeout: float) -> None:
    """Use the zip on disk (a checksum mismatch raises DataError) or download it; without a sha256 to check,
    print the one it has so it can be pinned with --sha256."""
    try:
        download_file(url, zip_path, sha256=sha256, timeout=timeout, md5=md5, on_mismatch='raise',
                      print_sha256=not sha256)
    except ChecksumError:
        raise
    except DownloadError as err:
        raise DownloadError(f'could not download {url} ({err.reason}).\nTo prepare Penn-Fudan offline, '
                            f'download it elsewhere, copy it to {zip_path.resolve()} (or pass --zip PATH) '
                            'and run this again.', err.reason) from err


def _unpack(zip_path: Path, root: Path, expected_images: int | None) -> None:
    root.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=root.parent, prefix=f'.{root.name}-extract-'))
    try:
        safe_extract(zip_path, scratch)
        candidates = [scratch] + sorted(p for p in scratch.iterdir() if p.is_dir() and p.name != '__MACOSX')
        found = next((c for c in candidates if (c / LAYOUT['img']).is_dir()), None)
        if found is None:
            raise DataError(zip_path, f'has no {LAYOUT["img"]} folder; is it the Penn-Fudan archive?')
        count = check_layout(found, expected_images)
        os.replace(found, root)
        print(f'extracted {count} images to {root}')
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def prepare_pennfudan(root: Path = DEFAULT_ROOT, zip_path: Path | None = None, url: str = OFFICIAL_URL,
                      sha256: str | None = EXPECTED_SHA256, md5: str | None = PUBLISHED_MD5,
                      expected_images: int | None = OFFICIAL_IMAGE_COUNT,
                      n_train: int = DEFAULT_SPLIT['n_train'], n_val: int = DEFAULT_SPLIT['n_val'],
                      seed: int = DEFAULT_SPLIT['seed'], timeout: float = 30,
                      rewrite_splits: bool = False) -> Path:
    """Make ``root`` a checked Penn-Fudan copy with splits/; reuse the zip (``zip_path`` or
    ``<root parent>/PennFudanPed.zip``) when it is on disk, else download it from ``url``.

    splits/train.txt and splits/val.txt (``n_train``/``n_val`` images, shuffled with ``seed``) are written
    only when one of them is missing or ``rewrite_splits`` is true, so splits made with
    tools/make_splits.py survive a second run."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DataError(root, 'is a file; the dataset root must be a folder')
    if root.exists() and any(root.iterdir()):
        try:
            count = check_layout(root, expected_images)
        except DataError as err:
            raise DataError(root, f'exists but is not a complete Penn-Fudan copy ({err}); '
                                  'move it away or choose another root') from err
        print(f'{root} already holds {count} images; not downloading')
    else:
        if zip_path is not None and not Path(zip_path).is_file():
            raise DataError(zip_path, 'no such file')
        zip_path = Path(zip_path) if zip_path is not None else root.parent / 'PennFudanPed.zip'
        _obtain_zip(zip_path, url, sha256, md5, timeout)
        if root.exists():
            root.rmdir()  # empty, checked above
        _unpack(zip_path, root, expected_images)

    splits = root / SPLIT_DIR
    if not rewrite_splits and (splits / 'train.txt').is_file() and (splits / 'val.txt').is_file():
        print(f'keeping the existing splits in {splits} (ask for --train/--val/--seed to rewrite them)')
        return root
    write_splits(source_images(pennfudan_source(root)), splits, n_train=n_train, n_val=n_val, seed=seed)
    print(f'wrote splits: {n_train} train / {n_val} val (seed {seed}) under {root}')
    return root
