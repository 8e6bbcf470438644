"""k-fold cross-validation of any source: k trainings, mean and std of the COCO metrics.

On ~170 images one train/val split gives one noisy AP; k folds give k numbers and their spread. The images
of the config's training split (what its train dataset selects: splits/train.txt, the train json) are
shuffled with a seed and dealt into k folds (sizes differ by at most one; custom/data_tools/splitting.py);
fold i validates on its own images and trains on all the others, so every one of them is validated exactly
once. The images the config holds out for validation never enter a fold: they stay unseen for a final test.

Layout under the work dir (split files live there, not in the data folder, which may be shared or
read-only, and they stay next to the results they produced)::

    <work_dir>/splits/fold{i}/train.txt, val.txt   one image stem per line (the dataset's ann_file, or its
                                                   split_file for the json sources, COCO and VIA)
    <work_dir>/fold{i}/                            tools/train.py work dir (checkpoints, logs)
    <work_dir>/fold{i}/test/                       tools/test.py run on the fold's best checkpoint (with
                                                   tta, --tta: each image and its mirror image, merged)
    <work_dir>/fold{i}/test/predictions.pkl        its predictions (--out) on the fold's val images: with
                                                   every fold's, each image predicted by a model that did
                                                   not train on it (out-of-fold; tools/find_label_errors.py)
    <work_dir>/kfold_summary.json, kfold_summary.md

Each training and test runs as its own subprocess (custom/jobs/steps.py), so no mmengine global state
(loggers, message hubs, registries' scopes) leaks from one fold's runner into the next.
"""

import json
from pathlib import Path

import numpy as np
from mmengine.config import Config

from custom.data_tools.splitting import selected_images, split_argument, write_folds
from custom.datasets.builder import LOADERS, iter_dataset_configs
from custom.engine.runtime import load_config
from custom.errors import ConfigError, StepFailedError
from custom.jobs.steps import (
    data_root_options,
    find_checkpoint,
    parse_cfg_options,
    read_test_metrics,
    run_step,
)

METRIC_KEYS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'coco/segm_mAP_50')
PREDICTIONS = 'predictions.pkl'  # each fold's test predictions, beside its test run


def leaf_dataset(cfg: Config, loader: str) -> tuple[str, dict]:
    """(dotted key, config) of the one dataset in ``loader`` (through wrappers); k-fold needs exactly one."""
    found = list(iter_dataset_configs(cfg[loader]['dataset'], f'{loader}.dataset'))
    if len(found) != 1:
        raise ConfigError(f'{loader}.dataset: k-fold splits one source, but it holds {len(found)} datasets '
                          f'({", ".join(where for where, _ in found)})')
    return found[0]


def fold_overrides(cfg: Config, data_root: str, split_files: dict[str, Path]) -> list[str]:
    """--cfg-options pointing train at the fold's train file and val/test at its val file.

    The json sources (COCO, VIA) select a fold's images with ``split_file`` inside one annotation json; the
    fold's val images are in the training json, so val and test read that json and its image folder too.
    """
    overrides = data_root_options(cfg, data_root)
    train = leaf_dataset(cfg, 'train_dataloader')[1]
    for loader in LOADERS:
        if not cfg.get(loader):
            continue
        key, dataset_cfg = leaf_dataset(cfg, loader)
        split = split_files['train' if loader == 'train_dataloader' else 'val'].resolve()
        argument = split_argument(dataset_cfg)
        overrides.append(f'{key}.{argument}={split}')
        if argument != 'ann_file' and loader != 'train_dataloader':
            image_folder = (train.get('data_prefix') or {}).get('img', '')
            overrides += [f'{key}.ann_file={train["ann_file"]}', f'{key}.data_prefix.img={image_folder}']
    return overrides


def summarize(per_fold: list[dict]) -> dict:
    """Mean and std (numpy's, ddof=0) over folds of every metric that all folds report."""
    names = [key for key in METRIC_KEYS if all(key in fold['metrics'] for fold in per_fold)]
    values = {name: np.array([fold['metrics'][name] for fold in per_fold]) for name in names}
    return dict(metric_names=names,
                mean={name: float(np.mean(v)) for name, v in values.items()},
                std={name: float(np.std(v)) for name, v in values.items()})


def summary_markdown(summary: dict) -> str:
    """A table: one row per fold, then mean and std."""
    names = summary['metric_names']
    header = ['fold', 'train', 'val', *(name.removeprefix('coco/') for name in names)]
    lines = [f'# {summary["folds"]}-fold cross-validation (seed {summary["seed"]})', '',
             f'Config `{summary["config"]}`, data `{summary["data_root"]}`: folds of the training split '
             f'`{summary["folded"]}` (its validation images stay out); std is over folds (ddof=0).', '',
             '| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for fold in summary['per_fold']:
        cells = [str(fold['fold']), str(fold['n_train']), str(fold['n_val'])]
        lines.append('| ' + ' | '.join(cells + [f'{fold["metrics"][n]:.3f}' for n in names]) + ' |')
    for stat in ('mean', 'std'):
        lines.append(f'| **{stat}** | | | ' + ' | '.join(f'{summary[stat][n]:.3f}' for n in names) + ' |')
    return '\n'.join(lines) + '\n'


def run_kfold(config: str, folds: int = 5, seed: int = 0, data_root: str | None = None,
              work_dir: str | None = None, cfg_options: list[str] | None = None,
              classes: list[str] | None = None, tta: bool = False) -> dict:
    """Train and test every fold, then write ``kfold_summary.json``/``.md``; returns the summary.

    ``cfg_options`` are raw ``key=value`` strings and ``classes`` the --classes of tools/train.py, passed on
    to every training and test. ``data_root``
    defaults to the config's train dataset root (after ``cfg_options``); ``work_dir`` to
    ``work_dirs/<config name>_kfold<k>``.
    """
    cfg_options = list(cfg_options or [])
    cfg = load_config(config, parse_cfg_options(cfg_options), classes=classes)
    class_args = ['--classes', *classes] if classes else []
    train_source = dict(leaf_dataset(cfg, 'train_dataloader')[1])
    root = str(Path(data_root or train_source.get('data_root') or '.').resolve()) + '/'
    out = Path(work_dir or Path('work_dirs') / f'{Path(config).stem}_kfold{folds}')
    images = selected_images({**train_source, 'data_root': root})
    print(f'k-fold over the {len(images.stems)} images of the config\'s training split ({images.location}); '
          'the images it holds out for validation stay out of every fold', flush=True)
    split_files = write_folds(images, out / 'splits', folds, seed)

    per_fold = []
    for index, files in enumerate(split_files):
        fold_dir = out / f'fold{index}'
        options = ['--cfg-options', *cfg_options, *fold_overrides(cfg, root, files)]
        try:
            run_step('train', config, '--work-dir', str(fold_dir), *class_args, *options)
            checkpoint = find_checkpoint(fold_dir)
            run_step('test', config, str(checkpoint), '--work-dir', str(fold_dir / 'test'), '--out',
                     str(fold_dir / 'test' / PREDICTIONS), *['--tta'] * tta, *class_args, *options)
        except StepFailedError as error:
            raise StepFailedError(f'fold {index}: {error}') from error
        counts = {name: len(path.read_text().split()) for name, path in files.items()}
        metrics = read_test_metrics(fold_dir / 'test')
        per_fold.append(dict(fold=index, n_train=counts['train'], n_val=counts['val'],
                             checkpoint=str(checkpoint), predictions=str(fold_dir / 'test' / PREDICTIONS),
                             metrics={key: metrics[key] for key in METRIC_KEYS if key in metrics}))

    summary = dict(config=str(config), data_root=root, folded=images.location, folds=folds, seed=seed,
                   tta=tta, work_dir=str(out),
                   split_dir=str(out / 'splits'), per_fold=per_fold, **summarize(per_fold))
    (out / 'kfold_summary.json').write_text(json.dumps(summary, indent=2) + '\n', encoding='utf-8')
    (out / 'kfold_summary.md').write_text(summary_markdown(summary), encoding='utf-8')
    return summary
