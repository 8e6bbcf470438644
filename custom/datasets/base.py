"""The per-image contract every project dataset follows, and ``ProjectDataset``, the base class that owns it.

A source is a list of image keys (a stem, an annotation file, an entry of a json file) and a parser
``parse_image(key) -> ParsedImage`` that raises ``DataError`` at the image's first problem. The base class
turns that into MMDetection's middle format: it picks the keys (every image, or those a split file lists),
parses them, rejects duplicate image ids, counts what it skipped in one warning, filters training images and
keeps ignored instances out of every per-class statistic. ``parse_images()`` is the one parse loop: loading
stops at its first error, the validator (custom/data_tools/validation.py) walks it to the end and notes each
error, so training and the validator report the same problems in the same words.

The classes a config leaves out come from the source (``default_classes``), and the kind of masks a source
gives from ``MASK_TYPE``/``rle_masks`` (custom/engine/config_checks.py asks it through
custom/datasets/builder.py).

Ignore rule: an instance with ``ignore_flag=1`` (a crowd region, a ``difficult`` object, KITTI's DontCare)
is neither a target nor background, and never counts as a class (``get_cat_ids``, the validator's per-class
counts). Its ``bbox_label`` says which class's detections it absorbs, as COCO's crowd regions do: a region
that belongs to no class (DontCare, labelme's ``__ignore__``) is one ignored copy per class
(``any_class_ignore``), so CocoMetric and the project's matcher ignore detections of every class there.
"""

import logging
import multiprocessing
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mmdet.datasets import BaseDetDataset
from mmengine.logging import print_log
from PIL import Image, UnidentifiedImageError

from custom.datasets.class_map import check_class_map, warn_unmatched
from custom.datasets.splits import read_split
from custom.errors import ConfigError, DataError

# Loading stops at the first problem; the validator goes on and lists them all.
VALIDATOR_HINT = 'the first problem found; tools/validate_dataset.py --config CONFIG lists them all'
# check_images values: skip the image check, verify the file's structure (cheap, default), decode every pixel.
IMAGE_CHECKS = (False, True, 'verify', 'decode')
# Images per task of a worker process (parse_images(workers=N)): a message per 64 parsed images, and at most
# 64 images' work left to one process at the end.
PARSE_CHUNK = 64


@dataclass
class ParsedImage:
    """One image in the middle format plus what training tolerates but a validator should mention."""

    info: dict
    unmatched: Counter = field(default_factory=Counter)  # source class name -> objects not in classes
    warnings: list[DataError] = field(default_factory=list)


def check_image_file(path: str | Path, check: bool | str = True) -> None:
    """Fails with a DataError when the image cannot be decoded; see ``IMAGE_CHECKS`` for ``check``.

    'verify' (= True) checks the file's structure (for PNG every chunk's CRC, so truncated or damaged files
    fail): 0.06-0.5 s for the 170 Penn-Fudan images. 'decode' decodes every pixel (about 1.8 s), which
    also catches truncated JPEGs (OpenCV decodes those partially, so training would not crash on them).
    """
    if check not in IMAGE_CHECKS:
        raise ConfigError(f'check_images must be one of {IMAGE_CHECKS}, got {check!r}')
    if not check:
        return
    try:
        with Image.open(path) as img:
            img.verify()
        if check == 'decode':  # after the verify, so a file both catch gets the message loading gives
            with Image.open(path) as img:
                img.load()
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise DataError(path, f'corrupt image data ({err or type(err).__name__})') from None


def parse_in_processes(dataset: 'ProjectDataset', keys: list[Hashable],
                       workers: int) -> Iterator[tuple[Hashable, ParsedImage | DataError]]:
    """``(key, parsed)`` for every key in order, parsed in a pool of ``workers`` processes (started when the
    iterator is first read, closed when it is exhausted)."""
    chunks = [keys[start:start + PARSE_CHUNK] for start in range(0, len(keys), PARSE_CHUNK)]

    def parse_each() -> Iterator[tuple[Hashable, ParsedImage | DataError]]:
        with multiprocessing.Pool(min(workers, len(chunks)), initializer=_adopt_dataset,
                                  initargs=(dataset,)) as pool:
            for parsed in pool.imap(_parse_chunk, chunks):
                yield from parsed

    return parse_each()


_worker_dataset: 'ProjectDataset | None' = None  # the dataset a worker process of parse_in_processes parses


def _adopt_dataset(dataset: 'ProjectDataset') -> None:
    global _worker_dataset
    _worker_dataset = dataset


def _parse_chunk(keys: list[Hashable]) -> list[tuple[Hashable, 'ParsedImage | DataError']]:
    return [(key, _worker_dataset.parse_or_error(key)) for key in keys]


def duplicate_id_errors(infos: list[dict], source: str | Path) -> list[DataError]:
    """One DataError per ``img_id`` that occurs more than once (a split file listing an image twice)."""
    counts = Counter(info['img_id'] for info in infos)
    return [
        DataError(source, f'image id {img_id!r} occurs {n} times (each image must be listed once)')
        for img_id, n in counts.items()
        if n > 1
    ]


def trainable(instances: Iterable[dict]) -> list[dict]:
    """The instances that are targets (``ignore_flag`` 0)."""
    return [inst for inst in instances if not inst.get('ignore_flag', 0)]


def any_class_ignore(instance: dict, num_classes: int) -> list[dict]:
    """A region that belongs to no class (KITTI's DontCare, labelme's ``__ignore__``) as ignored instances.

    COCO evaluation (mmdet's CocoMetric, pycocotools) and the project's matcher let a crowd region absorb the
    detections of its own category only, so the region is one ignored copy per class: a detection of any
    class there is neither a hit nor a false positive. Ignored copies never count as a class.
    """
    return [dict(instance, bbox_label=label, ignore_flag=1) for label in range(num_classes)]


def all_ignored_error(infos: list[dict], source: str | Path, hint: str = '') -> DataError | None:
    """A DataError when the images hold instances but every one is ignored: training would learn nothing
    (a CVAT export with iscrowd=1 everywhere, classes that match only ignored objects)."""
    if not any(info['instances'] for info in infos) or any(trainable(info['instances']) for info in infos):
        return None
    return DataError(source, f'every instance of all {len(infos)} images is ignored (ignore_flag=1), so '
                             f'training would learn nothing{hint}')


def filter_images(data_list: list[dict], filter_cfg: dict | None, test_mode: bool) -> list[dict]:
    """Apply ``filter_cfg=dict(filter_empty_gt=bool, min_size=int)`` like mmdet's CocoDataset (train only).

    ``filter_empty_gt`` drops images without any non-ignored instance; ``min_size`` drops images whose
    shorter side is below it.
    """
    if test_mode or not filter_cfg:
        return data_list
    drop_empty = filter_cfg.get('filter_empty_gt', False)
    min_size = filter_cfg.get('min_size', 0)
    return [
        info
        for info in data_list
        if min(info['width'], info['height']) >= min_size
        and not (drop_empty and not trainable(info['instances']))
    ]


class ProjectDataset(BaseDetDataset):
    """Base of every project dataset; a source implements ``all_keys``, ``key_for_stem``,
    ``expected_file`` and ``parse_image``.

    Args:
        class_map: source class name -> config class name, applied before matching ``metainfo['classes']``.
        check_images: False, True/'verify' (default, cheap) or 'decode' (see ``check_image_file``).
        data_prefix: folders relative to ``data_root``; missing keys take the source's ``DEFAULT_PREFIX``.
    """

    DEFAULT_PREFIX: dict = {}
    UNMATCHED_FATE = 'skipped'  # what happens to objects of classes outside metainfo['classes']
    # The argument that names a split file (a list of image names); the json sources, whose ann_file is
    # their annotation json, take split_file instead (custom/datasets/annotation_json.py).
    SPLIT_ARG = 'ann_file'
    IGNORED_HINT = ''  # why a source's instances may all be ignored, appended to that warning and error
    # The masks the source gives: 'rle' or 'polygon'; a source whose files hold either kind (a COCO json)
    # overrides ``rle_masks``.
    MASK_TYPE = 'rle'

    def __init__(self, *args, data_prefix: dict | None = None, class_map: dict | None = None,
                 check_images: bool | str = True, **kwargs) -> None:
        self.class_map = class_map
        self.check_images = check_images
        super().__init__(*args, data_prefix={**self.DEFAULT_PREFIX, **(data_prefix or {})}, **kwargs)

    # ---- what a source implements

    def all_keys(self) -> list[Hashable]:
        """Keys of every image of the source (used when ``ann_file`` is '')."""
        raise NotImplementedError

    def key_for_stem(self, stem: str) -> Hashable | None:
        """The key of the image a split file names ``stem``; None when the source has no such image."""
        raise NotImplementedError

    def expected_file(self, stem: str) -> str:
        """The file that would hold image ``stem`` (named when a split file lists an unknown image)."""
        raise NotImplementedError

    def parse_image(self, key: Hashable) -> ParsedImage:
        """The image's middle-format info; raises DataError at its first problem."""
        raise NotImplementedError

    def stem_of(self, key: Hashable) -> str:
        """The name a split file lists for ``key`` (the inverse of ``key_for_stem``)."""
        return Path(str(key)).stem

    @classmethod
    def rle_masks(cls, dataset_cfg: dict) -> str | None:
        """Why a config entry of this class gives RLE masks (None: polygons only). A pipeline with
        ``LoadAnnotations(poly2mask=False)`` turns RLE masks into ignored instances, which
        custom/engine/config_checks.py refuses."""
        return f'{cls.__name__} gives RLE masks' if cls.MASK_TYPE == 'rle' else None

    def default_classes(self) -> tuple[str, ...]:
        """The classes when the config names none, from the source's files (COCO's categories, the labels
        labelme and VIA files use); () when the source cannot tell."""
        return ()

    def prepare(self) -> None:
        """Checks the classes and class_map; a source extends it to index its files before any key is read."""
        classes = tuple(self.metainfo.get('classes') or ()) or self.default_classes()
        if not classes:
            raise DataError(self.location(), f'{type(self).__name__} needs metainfo=dict(classes=(...)) in '
                                             'the config (--classes for the data tools)')
        self._metainfo['classes'] = classes
        self.class_map = check_class_map(self.class_map, classes, type(self).__name__)

    def location(self) -> str:
        """Where the images come from, for messages: the split file, else the image folder."""
        return str(self.ann_file or self.data_prefix.get('img') or self.data_root)

    def split_path(self) -> str:
        """The split file that selects the images ('' = every image); see ``SPLIT_ARG``."""
        return self.ann_file

    # ---- the contract, shared by every source

    def image_keys(self) -> list[Hashable]:
        """Keys of the images to load: those a split file (``split_path()``) lists, or every image."""
        self.prepare()
        split = self.split_path()
        if not split:
            keys = self.all_keys()
            if not keys:
                raise DataError(self.location(), 'no images found (check data_root and data_prefix)')
            return keys
        keys = []
        for key in self.split_keys(split):
            if isinstance(key, DataError):
                raise key
            keys.append(key)
        if not keys:
            raise DataError(split, 'split file lists no images')
        return keys

    def split_keys(self, split: str | Path) -> Iterator[Hashable | DataError]:
        """For each image a split file lists: its key, or a DataError when the source has no such image (the
        loader stops at the first, the validator lists them all)."""
        for line_no, stem in read_split(split):
            key = self.key_for_stem(stem)
            yield key if key is not None else DataError(
                split, f'line {line_no}: unknown image {stem!r} (no {self.expected_file(stem)})')

    def image_stems(self) -> list[str]:
        """The names split files list for every image of the source (what tools/make_splits.py deals)."""
        self.prepare()
        stems = [self.stem_of(key) for key in self.all_keys()]
        shared = sorted(stem for stem, n in Counter(stems).items() if n > 1)
        if shared:
            more = f' ({len(shared)} names in all)' if len(shared) > 1 else ''
            raise DataError(self.location(), f'several images are named {shared[0]!r}{more}: split files '
                                             'list images by name; rename them')
        return stems

    def dataset_errors(self, infos: list[dict]) -> list[DataError]:
        """Problems of the loaded images as a whole: duplicate image ids, every instance ignored."""
        errors = duplicate_id_errors(infos, self.location())
        if error := all_ignored_error(infos, self.location(), self.IGNORED_HINT):
            errors.append(error)
        return errors

    def parse_images(self, workers: int = 1) -> Iterator[tuple[Hashable, ParsedImage | DataError]]:
        """``(key, ParsedImage)``, or ``(key, DataError)`` at the image's first problem, for every key of
        ``image_keys()`` in order, parsed as the iterator is read. The keys are taken at the call, so a
        problem of the source as a whole (a malformed json, an unknown image in a split file) raises here.
        ``workers`` > 1 parses in that many processes (the validator's ``--workers``), each a copy of this
        dataset with its source indexed (forked, or pickled where processes are spawned)."""
        keys = self.image_keys()
        if workers > 1 and len(keys) > PARSE_CHUNK:
            return parse_in_processes(self, keys, workers)
        return ((key, self.parse_or_error(key)) for key in keys)

    def parse_or_error(self, key: Hashable) -> ParsedImage | DataError:
        """``parse_image(key)``, or the DataError it raises."""
        try:
            return self.parse_image(key)
        except DataError as error:
            return error

    def load_data_list(self) -> list[dict]:
        """The middle format of every image; raises the first image's DataError (``parse_images``)."""
        unmatched, warnings, infos = Counter(), [], []
        for _, parsed in self.parse_images():
            if isinstance(parsed, DataError):
                raise DataError(parsed.path, f'{parsed.problem} ({VALIDATOR_HINT})')
            infos.append(parsed.info)
            unmatched += parsed.unmatched
            warnings += parsed.warnings
        errors = self.dataset_errors(infos)
        if errors:
            raise DataError(errors[0].path, f'{errors[0].problem} ({VALIDATOR_HINT})')
        owner = f'{type(self).__name__}({self.location()})'
        warn_unmatched(unmatched, owner, self.UNMATCHED_FATE)
        if warnings:
            print_log(f'{owner}: {len(warnings)} tolerated problems, e.g. {warnings[0]}; '
                      'tools/validate_dataset.py lists them all', logger='current', level=logging.WARNING)
        return infos

    def filter_data(self) -> list[dict]:
        """Honours ``filter_cfg`` keys ``filter_empty_gt`` and ``min_size`` (no filtering in test mode)."""
        return filter_images(self.data_list, self.filter_cfg, self.test_mode)

    def get_cat_ids(self, idx: int) -> list[int]:
        """Labels of the image's targets; ignored instances never count as a class (ClassBalancedDataset)."""
        return [int(inst['bbox_label']) for inst in trainable(self.get_data_info(idx)['instances'])]
