"""Pre-annotation: a trained detector over a folder of images, writing drafts that a human corrects in a
labelling tool (labelme, CVAT through COCO, Label Studio, VIA).

Three stages, each safe to stop:

1. What to run: the images of the inputs (``expand_inputs``), less those already labelled: the images of
   ``skip_labelled`` (annotation files or folders in a format the project reads, the tool's own earlier drafts
   included, ``labelled_images``) and those with a draft in the labelme output folder. A file labelled with
   classes the model does not predict is refused, naming it: drafts of one model beside labels of another
   would mix two class lists.
2. Predictions go into a cache folder as they come (``PredictionCache``): one JSON line per image, the
   detections as results.json writes them (masks as RLE) down to ``CACHE_SCORE_FLOOR``, appended and flushed
   image by image, one part per process. A run stopped anywhere (Ctrl-C, a kill, a crash) and started again
   with the same cache predicts only what the cache lacks; a line cut short by a kill is dropped.
3. The drafts are written once, at the end, from the cache (``write_drafts``, custom/datasets/drafts.py:
   whole files or none, never over a file a human may have corrected); with ``select`` only the images most
   in need of a human (custom/data_engine/selection.py), those first.

Processes started by torchrun (tools/dist_pre_annotate.sh) each read the cache, wait for one another, deal
the images the cache lacks out between them, append to their own parts, and rank 0 writes the drafts once
all are done (the cache folder must be one they all reach: a shared file system across machines).
"""

import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
from tqdm import tqdm

from custom.apis.inference import IMAGE_SUFFIXES, Detector, detections, expand_inputs, read_image
from custom.data_engine.selection import DEFAULT_RULE, SELECTION_RULES, rank_by_need
from custom.datasets.annotation_json import cached_json, image_name
from custom.datasets.builder import build_dataset
from custom.datasets.drafts import DraftImage, write_drafts
from custom.datasets.label_studio import DRAFT_TO_NAME, RESULT_SOURCES, image_candidates, label_studio_tasks
from custom.datasets.via import DRAFT_CLASS_ATTRIBUTE, DRAFT_GROUP_ATTRIBUTE
from custom.errors import ConfigError, DataError, MissingFileError, shortened
from custom.evaluation.matching import DEFAULT_SCORE_THR
from custom.structures.detections import Detections

# Detections are cached from this score: the test_cfg threshold of MMDetection's R-CNN configs (and of the
# ONNX export), so the cache holds all a model gives; the selection weighs those below the drafts' threshold.
CACHE_SCORE_FLOOR = 0.05
PART_GLOB = 'part-*.jsonl'
# Folder sources by what marks them: labelme's json files beside the images, then the layouts of Penn-Fudan,
# VOC and KITTI (their datasets' default data_prefix).
FOLDER_SOURCES = (('LabelmeDataset', '*.json'), ('PennFudanDataset', 'PNGImages'),
                  ('VOCXMLDataset', 'Annotations'), ('KittiDataset', 'label_2'))


def image_key(path: str | Path) -> str:
    """How the cache names an image: its absolute path."""
    return str(Path(path).resolve())


# ---- stage 1: what is labelled already

def annotation_source(path: Path) -> dict:
    """The dataset config that reads an annotation file or folder, told by its content: a json of COCO's
    images/annotations, a Label Studio task list or a VIA project/export; a folder of labelme files, or in
    the layout of Penn-Fudan, VOC or KITTI."""
    if path.is_dir():
        for dataset_type, marker in FOLDER_SOURCES:
            if any(path.glob(marker)):
                return dict(type=dataset_type, data_root=str(path), ann_file='')
        raise DataError(path, 'no annotations found: expected labelme .json files, or the folders of a '
                              'Penn-Fudan (PNGImages/), VOC (Annotations/) or KITTI (label_2/) data set')
    if not path.is_file():
        raise MissingFileError(f'{path}: no such annotation file or folder')
    content = cached_json(path)
    json_source = dict(data_root='', ann_file=str(path), data_prefix=dict(img=str(path.parent)))
    if isinstance(content, dict) and 'images' in content and 'annotations' in content:
        return dict(json_source, type='CocoJsonDataset', require_masks=False)
    if isinstance(content, list):
        return dict(json_source, type='LabelStudioDataset')
    if isinstance(content, dict) and ('_via_img_metadata' in content or all(
            isinstance(record, dict) and 'filename' in record for record in content.values())):
        # the region attributes drafts write; another VIA file's classes are not checked
        return dict(json_source, type='VIADataset', class_attribute=DRAFT_CLASS_ATTRIBUTE,
                    group_attribute=DRAFT_GROUP_ATTRIBUTE)
    raise DataError(path, 'not an annotation file the project reads (a COCO instances json, a Label Studio '
                          'export, a VIA project)')


def labelled_images(path: str | Path, classes: Sequence[str]) -> set[str]:
    """The names (file names without folders and suffix) of the images an annotation file or folder holds;
    every task of a Label Studio file counts, labelled or not yet: it is in the tool. DataError naming the
    file when its objects are of classes the model does not predict (``classes``)."""
    path = Path(path)
    cfg = annotation_source(path)
    label_studio = cfg['type'] == 'LabelStudioDataset'
    sides = [dict(cfg, results=results) for results in RESULT_SOURCES] if label_studio else [cfg]
    found = {name for side in sides for name in build_dataset(side, lazy=True).default_classes()}
    foreign = sorted(found - set(classes))  # the format may not say (Penn-Fudan, VOC, KITTI): nothing found
    if foreign:
        raise DataError(path, f'labelled with classes the model does not predict: {shortened(foreign)} (the '
                              f'model\'s classes: {", ".join(classes)}); pre-annotate with the model trained '
                              'for these classes')
    if label_studio:
        urls = [task['data'].get(DRAFT_TO_NAME) for task in label_studio_tasks(cached_json(path), path)]
        return {image_name(image_candidates(url)[0]) for url in urls if isinstance(url, str) and url}
    dataset = build_dataset(cfg, lazy=True, metainfo=dict(classes=tuple(classes)))
    dataset.prepare()
    return {dataset.stem_of(key) for key in dataset.all_keys()}


def existing_drafts(fmt: str, out: Path, classes: Sequence[str]) -> set[str]:
    """The images that already have a draft at ``out`` (labelme: a file each in the output folder), which
    are kept as they are and not predicted again; a single-file format's existing ``out`` is refused: it may
    hold a human's corrections."""
    if fmt == 'labelme':
        return labelled_images(out, classes) if out.is_dir() and any(out.glob('*.json')) else set()
    if out.exists():
        raise ConfigError(f'{out} exists and may hold corrections, so it is not overwritten: choose another '
                          f'--out, and pass --skip-labelled {out} to go on with the images it lacks')
    return set()


# ---- stage 2: the cache

def read_part(part: Path) -> Iterable[dict]:
    """The records of one part; a last line without its newline (cut short by a kill) is left out."""
    lines = part.read_bytes().split(b'\n')
    for number, line in enumerate(lines[:-1], start=1):  # lines[-1]: b'' after a whole last line
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DataError(part, f'line {number}: not a prediction record ({error}); delete the cache '
                                  'folder to predict every image again') from None
        yield record


class PredictionCache:
    """A folder of JSON-lines parts, ``part-<rank>.jsonl``, one per process: a line per image, either
    ``{"file", "width", "height", "masks": bool, "detections": [...]}`` or ``{"file", "unreadable": problem}``
    (an image that could not be read is tried again by the next run)."""

    def __init__(self, folder: str | Path, rank: int = 0) -> None:
        self.folder = Path(folder)
        self.part = self.folder / f'part-{rank}.jsonl'
        self._file = None

    def read(self) -> tuple[dict[str, dict], dict[str, str]]:
        """(image key -> prediction record, image key -> why it could not be read) over every part."""
        predicted, unreadable = {}, {}
        for part in sorted(self.folder.glob(PART_GLOB)):
            for record in read_part(part):
                if 'unreadable' in record:
                    unreadable[record['file']] = record['unreadable']
                else:
                    predicted[record['file']] = record
        return predicted, {key: problem for key, problem in unreadable.items() if key not in predicted}

    def __enter__(self) -> 'PredictionCache':
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.part.is_file():  # cut off a line a kill left without its newline
            data = self.part.read_bytes()
            if data and not data.endswith(b'\n'):
                with self.part.open('r+b') as file:
                    file.truncate(data.rfind(b'\n') + 1)
        self._file = self.part.open('a', encoding='utf-8')
        return self

    def __exit__(self, *exc_info) -> None:
        self._file.close()

    def append(self, record: dict) -> None:
        """One line, flushed: on disk however the process ends next."""
        self._file.write(json.dumps(record, separators=(',', ':')) + '\n')
        self._file.flush()


def prediction_record(path: Path, image: np.ndarray, pred: Detections, classes: tuple[str, ...]) -> dict:
    height, width = image.shape[:2]
    return {'file': image_key(path), 'width': width, 'height': height, 'masks': pred.masks is not None,
            'detections': detections(pred, classes)}


def record_detections(record: dict, score_thr: float) -> Detections:
    """The cached detections scoring at least score_thr, masks decoded (None for a box-only model)."""
    kept = [item for item in record['detections'] if item['score'] >= score_thr]
    height, width = record['height'], record['width']
    masks = None
    if record['masks']:
        masks = np.zeros((len(kept), height, width), bool)
        for i, item in enumerate(kept):
            masks[i] = mask_utils.decode(item['mask']).astype(bool)
    return Detections(np.array([item['bbox'] for item in kept], np.float32).reshape(-1, 4),
                      np.array([item['score'] for item in kept], np.float32),
                      np.array([item['label'] for item in kept], np.int64), masks)


@dataclass
class ProcessGroup:
    """This process's place among those sharing the images, and how to wait for all of them."""

    rank: int = 0
    world_size: int = 1
    barrier: Callable[[], None] = lambda: None


def predict_into_cache(detector: Detector, files: Sequence[Path], cache: PredictionCache,
                       group: ProcessGroup) -> int:
    """Predicts the files the cache lacks, this process's share of them, into its part; returns how many
    it predicted. Every process of the group has read the cache before any appends to it, and all have
    finished when this returns."""
    predicted, _ = cache.read()
    group.barrier()
    pending = [path for path in files if image_key(path) not in predicted]
    count = 0
    with cache:
        desc = 'pre-annotation' + (f' (rank {group.rank})' if group.world_size > 1 else '')
        for path in tqdm(pending[group.rank::group.world_size], desc=desc, unit='image', position=group.rank):
            try:
                image = read_image(path)
            except DataError as error:
                tqdm.write(f'warning: {error}; skipped', file=sys.stderr)
                cache.append({'file': image_key(path), 'unreadable': error.problem})
                continue
            cache.append(prediction_record(path, image, detector(image, CACHE_SCORE_FLOOR), detector.classes))
            count += 1
    group.barrier()
    return count


# ---- stage 3: the drafts

class CachedDrafts(Sequence):
    """The drafts of cached records, each decoded when asked for: one image's masks in memory at a time."""

    def __init__(self, records: Sequence[dict], score_thr: float) -> None:
        self.records, self.score_thr = records, score_thr

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        record = self.records[index]
        return DraftImage(Path(record['file']), record['width'], record['height'],
                          record_detections(record, self.score_thr))


# ---- the run

@dataclass
class PreAnnotation:
    """What a run did: the files written (rank 0), the images drafted in their order, how many images were
    labelled already, predicted by this process (and in how many seconds), or unreadable (each named), and
    each candidate's need of a human when selecting."""

    written: list[Path] = field(default_factory=list)
    drafted: list[str] = field(default_factory=list)
    labelled: int = 0
    kept_drafts: int = 0
    predicted: int = 0
    seconds: float = 0.0  # predicting, reading the images included
    unreadable: list[DataError] = field(default_factory=list)
    need: dict[str, float] = field(default_factory=dict)


def pre_annotate(detector: Detector, inputs: Sequence[str | Path], fmt: str, out: str | Path,
                 cache_dir: str | Path, *, score_thr: float = DEFAULT_SCORE_THR,
                 skip_labelled: Sequence[str | Path] = (), select: int | None = None,
                 rule: str = DEFAULT_RULE, model_version: str = '', image_url_prefix: str | None = None,
                 group: ProcessGroup | None = None) -> PreAnnotation:
    """Drafts in ``fmt`` at ``out`` of the images of ``inputs`` that are not labelled yet (see the module
    docstring); ``select`` keeps the ``select`` images most in need of a human, by ``rule``."""
    group = group or ProcessGroup()
    out, classes = Path(out), tuple(detector.classes)
    files, _ = expand_inputs(list(inputs))
    videos = [path for path in files if path.suffix.lower() not in IMAGE_SUFFIXES]
    if videos:
        raise DataError(videos[0], 'pre-annotation takes images (and folders of images), not videos')
    if select is not None and select < 1:
        raise ConfigError(f'--select takes a number of images above 0, got {select}')
    if rule not in SELECTION_RULES:
        raise ConfigError(f'unknown selection rule {rule!r}; choose from {sorted(SELECTION_RULES)}')
    result = PreAnnotation()
    labelled: set[str] = set()
    for path in skip_labelled:
        labelled |= labelled_images(path, classes)
    kept = existing_drafts(fmt, out, classes)
    result.kept_drafts = sum(path.stem in kept for path in files)
    result.labelled = sum(path.stem in labelled and path.stem not in kept for path in files)
    todo = [path for path in files if path.stem not in labelled | kept]
    if select is not None and select > len(todo):
        raise ConfigError(f'--select {select} is more than the {len(todo)} images left to label (of '
                          f'{len(files)} in {", ".join(map(str, inputs))}; {len(files) - len(todo)} are '
                          'labelled already)')

    cache = PredictionCache(cache_dir, group.rank)
    start = time.monotonic()
    result.predicted = predict_into_cache(detector, todo, cache, group)
    result.seconds = time.monotonic() - start
    if group.rank != 0:
        return result

    predicted, unreadable = cache.read()
    records = [predicted[image_key(path)] for path in todo if image_key(path) in predicted]
    result.unreadable = [DataError(path, unreadable[image_key(path)]) for path in todo
                         if image_key(path) in unreadable]
    if select is not None:
        scores = [np.array([item['score'] for item in record['detections']]) for record in records]
        order = rank_by_need(scores, score_thr, rule)
        result.need = {records[i]['file']: SELECTION_RULES[rule](scores[i], score_thr) for i in order}
        records = [records[i] for i in order[:select]]
    result.drafted = [record['file'] for record in records]
    if records:
        result.written = write_drafts(fmt, CachedDrafts(records, score_thr), classes, out,
                                      model_version=model_version, image_url_prefix=image_url_prefix)
    return result


def summary_lines(result: PreAnnotation, fmt: str, out: Path, select: int | None) -> list[str]:
    """What a run did, for the console."""
    lines = []
    if result.unreadable:
        lines.append(f'warning: {len(result.unreadable)} images could not be read and were skipped: '
                     f'{shortened([str(error) for error in result.unreadable], 3)}')
    if result.kept_drafts:
        lines.append(f'kept {result.kept_drafts} drafts already in {out} as they are (never overwritten); '
                     'their images were not predicted again')
    chosen = f'the {len(result.drafted)} images most in need of a human (of {len(result.need)})' \
        if select is not None else f'{len(result.drafted)} images'
    rate = f' ({result.predicted / result.seconds:.2f} images/s)' if result.predicted else ''
    lines.append(f'{fmt} drafts of {chosen} -> {out} ({len(result.written)} files); '
                 f'{result.labelled} images labelled already, {result.predicted} predicted in this run{rate}')
    return lines
