"""The project's main job (`make main`): train and evaluate on Penn-Fudan, or the offline demo.

Penn-Fudan needs the data (downloaded to data/PennFudanPed unless it is there) and the COCO
checkpoint in the config's load_from. When either cannot be had, the job says why and runs the
demo instead: a synthetic data set in the same on-disk layout, trained on the CPU in minutes,
evaluated against the same model untrained. Each step runs the command a user would type.
"""

import json
from pathlib import Path

import torch
from mmengine.config import Config

from custom.data_tools.pennfudan_download import DEFAULT_ROOT, prepare_pennfudan
from custom.datasets.pennfudan import SPLIT_DIR, pennfudan_files
from custom.datasets.splits import read_split
from custom.engine.checkpoint_download import fetch_checkpoint
from custom.errors import DownloadError
from custom.jobs.steps import data_root_options, find_checkpoint, read_test_metrics, run_step

PENNFUDAN_CONFIG = 'configs/pennfudan_maskrcnn.py'
DEMO_CONFIG = 'configs/pennfudan_demo_cpu.py'
DEMO_DATA = Path('data/pennfudan_demo')
DEMO_DATA_ARGS = ['--images', '80', '--size', '160', '128', '--val', '20']
OVERLAY_IMAGES = 6


def evaluate_checkpoint(config: str, checkpoint: Path, work_dir: Path, *extra: str) -> dict:
    """Runs tools/test.py and returns the metrics it logged."""
    run_step('test', config, str(checkpoint), '--work-dir', str(work_dir), *extra)
    return read_test_metrics(work_dir)


def save_untrained_checkpoint(config: str, path: Path) -> Path:
    """The model exactly as training starts it (same seed and weight init), saved as a checkpoint."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.logging import MMLogger
    from mmengine.runner import set_random_seed

    MMLogger.get_instance('untrained_baseline', log_level='WARNING')  # init_weights logs every parameter
    cfg = Config.fromfile(config)
    register_all_modules()
    set_random_seed(cfg.get('randomness', {}).get('seed', 0))
    model = MODELS.build(cfg.model)
    model.init_weights()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'state_dict': model.state_dict(), 'meta': {'note': 'untrained baseline'}}, path)
    return path


def pennfudan_unavailable_reason(data_root: Path) -> str | None:
    """None when Penn-Fudan and its COCO checkpoint are ready (fetching them if possible), else why not."""
    try:
        prepare_pennfudan(data_root)
        fetch_checkpoint(Config.fromfile(PENNFUDAN_CONFIG).load_from)
    except DownloadError as error:
        return str(error)
    return None


def train_test_overlays(config: str, work_dir: Path, data_root: Path, val_images: list[Path]) -> dict:
    """Trains ``config`` on the data in ``data_root`` (every loader pointed there), tests its best checkpoint
    and draws overlays of ``val_images``; returns the test metrics."""
    options = ['--cfg-options', *data_root_options(Config.fromfile(config), data_root)]
    run_step('train', config, '--work-dir', str(work_dir), *options)
    best = find_checkpoint(work_dir)
    test_dir = work_dir / 'test'
    predictions = str(test_dir / 'predictions.pkl')
    metrics = evaluate_checkpoint(config, best, test_dir, '--out', predictions, *options)
    run_step('infer', config, str(best), *map(str, val_images), '--out-dir', str(work_dir / 'overlays'))
    return metrics


def val_images(data_root: Path) -> list[Path]:
    entries = read_split(data_root / SPLIT_DIR / 'val.txt')[:OVERLAY_IMAGES]
    return [pennfudan_files(data_root, stem).image for _, stem in entries]


def run_pennfudan(data_root: Path) -> None:
    if not torch.cuda.is_available():
        print('No GPU found: Penn-Fudan training on the CPU takes hours (about 8 s per image per step).')
    work_dir = Path('work_dirs/pennfudan_maskrcnn')
    metrics = train_test_overlays(PENNFUDAN_CONFIG, work_dir, data_root, val_images(data_root))
    print_summary('Penn-Fudan (50 val images)', {'fine-tuned from COCO': metrics}, work_dir)


def run_demo() -> None:
    if not (DEMO_DATA / SPLIT_DIR / 'val.txt').is_file():
        run_step('make_demo_data', str(DEMO_DATA), *DEMO_DATA_ARGS)
    work_dir = Path('work_dirs/pennfudan_demo_cpu')
    untrained = save_untrained_checkpoint(DEMO_CONFIG, work_dir / 'untrained' / 'untrained.pth')
    baseline = evaluate_checkpoint(DEMO_CONFIG, untrained, work_dir / 'untrained')
    trained = train_test_overlays(DEMO_CONFIG, work_dir, DEMO_DATA, val_images(DEMO_DATA))
    print_summary('synthetic demo (val split)', {'untrained': baseline, 'trained': trained}, work_dir)


def print_summary(title: str, results: dict[str, dict], work_dir: Path) -> None:
    keys = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'coco/segm_mAP_50')
    lines = [f'\n== {title} ==', f'{"model":<22}' + ''.join(f'{k:>18}' for k in keys)]
    lines += [f'{name:<22}' + ''.join(f'{m.get(k, float("nan")):>18.3f}' for k in keys)
              for name, m in results.items()]
    lines.append(f'checkpoints, logs, predictions and overlays: {work_dir}/')
    print('\n'.join(lines))
    (work_dir / 'summary.json').write_text(json.dumps(results, indent=1))


def run_main_job(force_demo: bool = False, data_root: Path = DEFAULT_ROOT) -> None:
    """Penn-Fudan when it and its checkpoint can be had (or are there), else the offline demo."""
    reason = 'asked for with --demo' if force_demo else pennfudan_unavailable_reason(data_root)
    if reason is None:
        run_pennfudan(data_root)
        return
    print(f'\nPenn-Fudan training is not possible right now:\n  {reason}\n'
          'Running the offline demo instead (synthetic pedestrians, CPU, about 5 minutes).')
    run_demo()
