"""Pipelines derived from a config: the evaluation pipeline with ground truth loaded.

The validation loss (custom/engine/hooks/val_loss.py) and ``tools/browse_dataset.py --split val`` need the
validation images with their annotations, but a config's test pipeline loads none (and a training pipeline
flips and crops at random). ``annotated_eval_pipeline`` is the split's own pipeline, deterministic and at
the size the metrics see, with the training pipeline's ``LoadAnnotations`` step (boxes, masks as trained)
inserted right after the image is read; PackDetInputs then packs the ground truth into the data samples.
"""

import copy

from custom.datasets.builder import configured_datasets, is_load_annotations, load_annotations_step, step_type
from custom.errors import ConfigError


def annotation_step(cfg) -> dict:
    """The ``LoadAnnotations`` step of the config's training pipeline (the first, through wrappers)."""
    for _, dataset in configured_datasets(cfg, ('train_dataloader',)):
        step = load_annotations_step(dataset)
        if step is not None:
            return copy.deepcopy(dict(step))
    raise ConfigError('train_dataloader.dataset.pipeline has no LoadAnnotations step, so it is not known '
                      'which annotations (boxes, masks) the model trains on')


def annotated_eval_pipeline(cfg, split: str = 'val') -> list[dict]:
    """``<split>_dataloader.dataset.pipeline`` with the training pipeline's LoadAnnotations after the image
    loading step (unchanged when it already loads annotations)."""
    dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
    pipeline = [copy.deepcopy(dict(step)) for step in dataset.get('pipeline') or []]
    if not pipeline:
        raise ConfigError(f'{split}_dataloader.dataset has no pipeline')
    if any(is_load_annotations(step) for step in pipeline):
        return pipeline
    names = [step_type(step) for step in pipeline]
    loads_image = [i for i, name in enumerate(names) if name.startswith('LoadImage')]
    if not loads_image:
        raise ConfigError(f'{split}_dataloader.dataset.pipeline: no LoadImage* step to load annotations '
                          f'after (steps: {names})')
    pipeline.insert(loads_image[0] + 1, annotation_step(cfg))
    return pipeline
