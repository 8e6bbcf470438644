"""What a human changed between a model's drafts and the corrected files: per image and in total, how many
drafted objects were kept unchanged, moved, relabelled or removed, and how many objects were added. Those
corrections are the model's real error rate on new data.

Both sides are objects in MMDetection's middle format (per image name, instances with ``bbox`` x1, y1, x2,
y2, ``bbox_label`` and an optional ``mask``: polygons or RLE), so any two sources the project reads can be
compared (``read_objects``/``changes_between``: the drafts as written, e.g. the COCO json or the Label Studio
tasks read with ``results='predictions'``, against the tool's export of the corrections).

Matching, per image: every draft/corrected pair gets its IoU (of the masks where both have one, else of the
boxes); pairs are taken greedily from the highest IoU down, each object at most once, while the IoU is at
least ``match_iou`` (0.5, the usual "same object" of detection metrics). A matched pair with another class
is relabelled; with the same class it is unchanged when the IoU is at least ``unchanged_iou`` (0.95: a
polygon redrawn from the same mask, or a box nudged by a pixel, stays above it), else moved. Unmatched drafts
were removed, unmatched corrected objects added. Ignored instances (crowd regions) count on neither side.
Images on one side only are listed, not counted: a draft nobody has corrected yet, or an image labelled from
scratch.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils

from custom.datasets.builder import dataset_as_read
from custom.errors import DataError, shortened
from custom.structures.masks import to_rle

MATCH_IOU = 0.5
UNCHANGED_IOU = 0.95
KINDS = ('unchanged', 'moved', 'relabelled', 'removed', 'added')


@dataclass
class ImageChanges:
    """The counts of one image (or of all images)."""

    drafted: int = 0
    corrected: int = 0
    unchanged: int = 0
    moved: int = 0
    relabelled: int = 0
    removed: int = 0
    added: int = 0

    @property
    def corrections(self) -> int:
        """The objects the human had to touch: moved, relabelled, removed or added."""
        return self.moved + self.relabelled + self.removed + self.added

    def __iadd__(self, other: 'ImageChanges') -> 'ImageChanges':
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)
        return self


@dataclass
class ChangeCounts:
    """Per image name its changes, and the images found on one side only."""

    images: dict[str, ImageChanges] = field(default_factory=dict)
    only_drafted: list[str] = field(default_factory=list)
    only_corrected: list[str] = field(default_factory=list)
    match_iou: float = MATCH_IOU
    unchanged_iou: float = UNCHANGED_IOU

    @property
    def total(self) -> ImageChanges:
        total = ImageChanges()
        for changes in self.images.values():
            total += changes
        return total

    def to_json(self) -> dict:
        def row(changes: ImageChanges) -> dict:
            return dict(asdict(changes), corrections=changes.corrections)

        return dict(match_iou=self.match_iou, unchanged_iou=self.unchanged_iou, total=row(self.total),
                    corrections_per_image=self.corrections_per_image(),
                    images={name: row(changes) for name, changes in self.images.items()},
                    only_drafted=self.only_drafted, only_corrected=self.only_corrected)

    def corrections_per_image(self) -> float:
        return self.total.corrections / len(self.images) if self.images else 0.0

    def table(self, per_image: bool = True) -> str:
        """The counts as a text table: one row per image (when ``per_image``) and the total."""
        columns = ('drafted', 'corrected', *KINDS, 'corrections')
        rows = [(name, changes) for name, changes in self.images.items()] if per_image else []
        rows.append(('total', self.total))
        width = max(len('image'), *(len(name) for name, _ in rows))
        lines = [f'{"image":<{width}}  ' + '  '.join(f'{c:>{len(c)}}' for c in columns)]
        for name, changes in rows:
            lines.append(f'{name:<{width}}  ' + '  '.join(
                f'{getattr(changes, c):>{len(c)}}' for c in columns))
        total = self.total
        kept = f'{total.unchanged / total.drafted:.0%}' if total.drafted else 'n/a'
        lines.append(f'{len(self.images)} images compared: {total.corrections} corrections '
                     f'({self.corrections_per_image():.2f} per image); {total.unchanged} of {total.drafted} '
                     f'drafted objects kept unchanged ({kept}); matched at IoU >= {self.match_iou}, '
                     f'unchanged at IoU >= {self.unchanged_iou}')
        if self.only_drafted:
            lines.append(f'not corrected yet (drafts only): {len(self.only_drafted)} images: '
                         f'{shortened(self.only_drafted)}')
        if self.only_corrected:
            lines.append(f'labelled without drafts (corrected only): {len(self.only_corrected)} images: '
                         f'{shortened(self.only_corrected)}')
        return '\n'.join(lines)


def canvas_size(instances: Iterable[dict]) -> tuple[int, int]:
    """(height, width) to rasterise an image's masks on: an RLE's own size, else what holds every object
    (IoU does not depend on the canvas as long as every mask fits)."""
    height = width = 1
    for inst in instances:
        mask = inst.get('mask')
        if isinstance(mask, dict) and 'size' in mask:
            return int(mask['size'][0]), int(mask['size'][1])
        points = [v for part in mask for v in part] if isinstance(mask, list) else []
        xs = points[0::2] + [inst['bbox'][0], inst['bbox'][2]]
        ys = points[1::2] + [inst['bbox'][1], inst['bbox'][3]]
        width, height = max(width, int(np.ceil(max(xs))) + 1), max(height, int(np.ceil(max(ys))) + 1)
    return height, width


def pair_ious(drafts: list[dict], corrected: list[dict]) -> np.ndarray:
    """(len(drafts), len(corrected)) IoUs: of the masks where both objects have one, else of the boxes."""
    if not drafts or not corrected:
        return np.zeros((len(drafts), len(corrected)))

    def xywh(instances: list[dict]) -> list[list[float]]:
        return [[x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in (inst['bbox'] for inst in instances)]

    ious = np.asarray(mask_utils.iou(xywh(drafts), xywh(corrected), [0] * len(corrected)), dtype=float)
    with_mask = [[inst.get('mask') is not None and len(inst['mask']) > 0 for inst in side]
                 for side in (drafts, corrected)]
    masked = [[k for k, has in enumerate(flags) if has] for flags in with_mask]
    if masked[0] and masked[1]:
        height, width = canvas_size([*drafts, *corrected])
        rles = [[to_rle(side[k]['mask'], height, width, 'mask') for k in keep]
                for side, keep in zip((drafts, corrected), masked, strict=True)]
        ious[np.ix_(*masked)] = mask_utils.iou(rles[0], rles[1], [0] * len(rles[1]))
    return ious


def image_changes(drafts: list[dict], corrected: list[dict], match_iou: float = MATCH_IOU,
                  unchanged_iou: float = UNCHANGED_IOU) -> ImageChanges:
    """The changes from one image's drafts to its corrected objects (see the module docstring)."""
    drafts = [inst for inst in drafts if not inst.get('ignore_flag', 0)]
    corrected = [inst for inst in corrected if not inst.get('ignore_flag', 0)]
    ious = pair_ious(drafts, corrected)
    changes = ImageChanges(drafted=len(drafts), corrected=len(corrected))
    used_d, used_c = set(), set()
    for flat in np.argsort(-ious, axis=None, kind='stable'):
        i, j = np.unravel_index(flat, ious.shape)
        if ious[i, j] < match_iou:
            break
        if i in used_d or j in used_c:
            continue
        used_d.add(i)
        used_c.add(j)
        if drafts[i]['bbox_label'] != corrected[j]['bbox_label']:
            changes.relabelled += 1
        elif ious[i, j] >= unchanged_iou:
            changes.unchanged += 1
        else:
            changes.moved += 1
    changes.removed = len(drafts) - len(used_d)
    changes.added = len(corrected) - len(used_c)
    return changes


def count_changes(drafts: dict[str, list[dict]], corrected: dict[str, list[dict]], *,
                  match_iou: float = MATCH_IOU, unchanged_iou: float = UNCHANGED_IOU) -> ChangeCounts:
    """The changes of every image on both sides (keys: image names; labels index the same classes)."""
    return ChangeCounts(
        images={name: image_changes(instances, corrected[name], match_iou, unchanged_iou)
                for name, instances in drafts.items() if name in corrected},
        only_drafted=[name for name in drafts if name not in corrected],
        only_corrected=[name for name in corrected if name not in drafts],
        match_iou=match_iou, unchanged_iou=unchanged_iou)


def read_objects(dataset_cfg: dict) -> tuple[dict[str, list[dict]], tuple[str, ...]]:
    """Every image of a dataset config (every image: test mode, nothing filtered) by image name (file name
    without folders and suffix), with the source's classes; DataError when two images share a name."""
    dataset = dataset_as_read(dataset_cfg)
    objects, paths = {}, {}
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        name = Path(info['img_path']).stem
        if name in objects:
            raise DataError(info['img_path'], f'{paths[name]} has the same name: images are compared by name')
        objects[name], paths[name] = info['instances'], info['img_path']
    return objects, tuple(dataset.metainfo['classes'])


def relabelled_to(objects: dict[str, list[dict]], classes: tuple[str, ...],
                  common: tuple[str, ...]) -> dict[str, list[dict]]:
    """The objects with labels indexing ``common`` instead of ``classes`` (the two sides' class lists may
    differ in order: COCO's category order, the sorted labels of labelme files)."""
    index = {k: common.index(name) for k, name in enumerate(classes)}
    return {name: [dict(inst, bbox_label=index[int(inst['bbox_label'])]) for inst in instances]
            for name, instances in objects.items()}


def changes_between(drafts_cfg: dict, corrected_cfg: dict, *, match_iou: float = MATCH_IOU,
                    unchanged_iou: float = UNCHANGED_IOU) -> tuple[ChangeCounts, tuple[str, ...]]:
    """The changes from the drafts to the corrected files, each a dataset config of any source, and the
    classes both sides' labels were mapped to (class names are compared, not indices)."""
    drafts, draft_classes = read_objects(drafts_cfg)
    corrected, corrected_classes = read_objects(corrected_cfg)
    common = tuple(dict.fromkeys([*draft_classes, *corrected_classes]))
    counts = count_changes(relabelled_to(drafts, draft_classes, common),
                           relabelled_to(corrected, corrected_classes, common),
                           match_iou=match_iou, unchanged_iou=unchanged_iou)
    return counts, common
