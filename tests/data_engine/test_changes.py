"""What a human changed between drafts and corrected files (custom/data_engine/changes.py and
tools/draft_changes.py): exact counts on hand-made objects, and the tool over drafts written for one tool and
corrections read from another, on real images."""

import json

import pytest

from custom.cli import draft_changes
from custom.data_engine.changes import KINDS, count_changes, image_changes
from custom.datasets.drafts import write_drafts
from custom.structures.masks import to_rle
from tests.helpers.drafts import CLASSES, mask_drafts, penn_fudan_source

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def box(x1, y1, x2, y2, label=0, **extra) -> dict:
    return {**dict(bbox=[x1, y1, x2, y2], bbox_label=label, ignore_flag=0), **extra}


def square(x, y, size=20) -> list[list[float]]:
    return [[x, y, x + size, y, x + size, y + size, x, y + size]]


def test_each_kind_of_change_is_counted_once():
    drafts = [box(0, 0, 20, 20, mask=square(0, 0)),  # unchanged (its mask redrawn as an RLE below)
              box(40, 0, 60, 20, mask=square(40, 0)),  # moved by 4 px: IoU 0.67
              box(0, 40, 20, 60),  # relabelled (boxes only)
              box(60, 60, 80, 80),  # removed
              box(90, 90, 99, 99, ignore_flag=1)]  # a crowd region counts on neither side
    corrected = [box(0, 0, 20, 20, mask=to_rle(square(0, 0), 100, 100, 'test')),
                 box(44, 0, 64, 20, mask=square(44, 0)),
                 box(0, 40, 20, 60, label=1),
                 box(70, 0, 90, 20)]  # added
    changes = image_changes(drafts, corrected)
    assert (changes.drafted, changes.corrected) == (4, 4)
    assert [getattr(changes, kind) for kind in KINDS] == [1, 1, 1, 1, 1]  # unchanged ... added
    assert changes.corrections == 4


def test_masks_decide_where_both_have_one_and_one_object_matches_once():
    # two drafts over one corrected object: the better one matches, the other was removed
    one = box(0, 0, 40, 40, mask=square(0, 0, 40))
    twice = image_changes([one, box(0, 0, 40, 40, mask=square(0, 0, 30))], [one])
    assert (twice.unchanged, twice.removed, twice.added) == (1, 1, 0)
    # the same box, but the masks overlap by less than match_iou: a removed and an added object
    thin = image_changes([box(0, 0, 40, 40, mask=[[0, 0, 10, 0, 10, 40, 0, 40]])],
                         [box(0, 0, 40, 40, mask=[[30, 0, 40, 0, 40, 40, 30, 40]])])
    assert (thin.removed, thin.added) == (1, 1)


def test_images_on_one_side_are_listed_not_counted():
    dot = box(0, 0, 9, 9)
    counts = count_changes({'a': [dot], 'b': [dot]}, {'a': [], 'c': [dot]})
    assert list(counts.images) == ['a'] and counts.total.removed == 1 and counts.total.added == 0
    assert (counts.only_drafted, counts.only_corrected) == (['b'], ['c'])
    assert 'not corrected yet (drafts only): 1 images: b' in counts.table()


def test_the_tool_counts_corrections_of_coco_drafts_made_in_labelme_on_real_images(tmp_path, capsys):
    drafts = mask_drafts(tmp_path, penn_fudan_source(tmp_path))
    write_drafts('coco', drafts, CLASSES, tmp_path / 'drafts.json')
    untouched, corrected = write_drafts('labelme', drafts, CLASSES, tmp_path / 'labelme')
    content = json.loads(corrected.read_text())
    shapes = content['shapes']
    shapes[0]['label'] = 'bicycle'  # relabelled
    for point in shapes[1]['points']:  # moved 3 px to the right
        point[0] += 3
    shapes.pop()  # removed
    shapes.append(dict(shapes[0], label='person', points=[[1, 1], [30, 1], [30, 30], [1, 30]]))  # added
    corrected.write_text(json.dumps(content))
    out = tmp_path / 'changes.json'
    status = draft_changes.main(['coco', str(tmp_path), 'labelme', str(tmp_path / 'labelme'),
                                 '--drafts-split', 'drafts.json', '--per-image', '--json', str(out)])
    assert status == 0
    report = json.loads(out.read_text())
    first, second = (len(d.detections) for d in drafts)
    # the first image's person in two pieces: one COCO annotation, two labelme shapes of one group
    assert report['images'][untouched.stem] == dict(drafted=first, corrected=first, unchanged=first, moved=0,
                                                    relabelled=0, removed=0, added=0, corrections=0)
    assert report['images'][corrected.stem] == dict(drafted=second, corrected=second, unchanged=second - 3,
                                                    moved=1, relabelled=1, removed=1, added=1, corrections=4)
    assert report['classes'] == list(CLASSES) and report['corrections_per_image'] == 2.0
    printed = capsys.readouterr().out
    total = first + second
    assert f'2 images compared: 4 corrections (2.00 per image); {total - 3} of {total} drafted' in printed
    rows = printed.splitlines()[2:5]  # after the classes and the header: the two images and the total
    assert [row.split()[0] for row in rows] == [untouched.stem, corrected.stem, 'total']
    assert rows[2].split()[1:] == [str(total), str(total), str(total - 3), '1', '1', '1', '1', '4']


def test_the_tool_refuses_bad_thresholds_and_names_a_missing_file(tmp_path, capsys):
    assert draft_changes.main(['coco', str(tmp_path), 'coco', str(tmp_path), '--match-iou', '0.9',
                               '--unchanged-iou', '0.5']) == 1
    assert 'need 0 < --match-iou (0.9) <= --unchanged-iou (0.5) <= 1' in capsys.readouterr().err
    both = ['coco', str(tmp_path), 'coco', str(tmp_path)]
    assert draft_changes.main([*both, '--drafts-split', 'none.json']) == 1
    assert f'error: {tmp_path}/none.json: annotation file not found' in capsys.readouterr().err
