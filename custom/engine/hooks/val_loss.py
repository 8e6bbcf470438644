"""ValLossHook: the model's training losses on the validation set, at every validation round.

MMDetection computes no validation loss (its test pipeline loads no annotations and its models predict in
``val_step``). After each validation round this hook runs the model in loss mode over the validation images,
without gradients and in eval mode, and adds the mean of every loss to the round's metrics as ``val/loss``,
``val/loss_cls``, ``val/loss_mask``, ...; the logger writes them to every vis backend (scalars.json,
TensorBoard, W&B, ...) and the text log, where ``tools/analyze_logs.py`` plots them next to the training loss.

The images go through ``annotated_eval_pipeline`` (custom/datasets/pipelines.py): the validation pipeline,
deterministic and at the metrics' image size, with the training pipeline's LoadAnnotations step. The RoI
samplers draw at random, so the losses run under a fixed seed in a forked RNG: the same model gives the same
validation loss every round, and the training run draws exactly the random numbers it would without the hook.

Enabled in configs/_base_/default_runtime.py as ``default_hooks.val_loss``; ``default_hooks.val_loss=None``
turns it off. It adds one loss-mode forward pass per validation image (measured in docs/monitoring.md).
"""

from collections import defaultdict

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce_dict
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from custom.datasets.pipelines import annotated_eval_pipeline

PREFIX = 'val/'


@HOOKS.register_module()
class ValLossHook(Hook):
    """Adds ``val/loss`` and every ``val/loss_*`` to the metrics of each validation round.

    Args:
        seed: seed of the RoI samplers' random draws while the losses run (the training RNG is left alone).
    """

    # Before RuntimeInfoHook (VERY_HIGH) copies the round's metrics to the message hub for the logger; the
    # losses go after the evaluator's metrics, so the first metric (save_best='auto') is unchanged.
    priority = 'HIGHEST'

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._loader = None

    def before_val_epoch(self, runner) -> None:
        """Drops the previous round's losses from the message hub. RuntimeInfoHook keeps every round's
        metrics there as history, and mmengine's LogProcessor logs a 'loss' key as the mean of its last 10
        values: without this, a round would log the mean over earlier rounds, and the round's iteration
        lines would repeat the previous round's value."""
        scalars = runner.message_hub.log_scalars
        for key in [key for key in scalars if key.startswith(f'val/{PREFIX}')]:
            scalars.pop(key)

    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        if metrics is None:
            return
        if self._loader is None:
            self._loader = self.build_loader(runner)
        metrics.update({f'{PREFIX}{key}': value for key, value in self.compute_losses(runner.model).items()})

    def build_loader(self, runner):
        """The validation dataloader with the annotated evaluation pipeline."""
        loader_cfg = runner.cfg.val_dataloader.to_dict()
        loader_cfg['dataset']['pipeline'] = annotated_eval_pipeline(runner.cfg, 'val')
        return Runner.build_dataloader(loader_cfg, seed=runner.seed)

    def compute_losses(self, model: torch.nn.Module) -> dict[str, float]:
        """Mean of every loss over the validation images (weighted by batch size, summed over ranks)."""
        model = model.module if is_model_wrapper(model) else model
        preprocessor = model.data_preprocessor
        # training=True pads the GT masks as training does; batch augmentations (random) are set aside.
        batch_augments = getattr(preprocessor, 'batch_augments', None)
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        sums: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), dtype=torch.float64))
        try:
            if batch_augments is not None:
                preprocessor.batch_augments = None
            with torch.no_grad(), torch.random.fork_rng(devices=devices):
                # A loader with workers draws their base seed from the global RNG when its iterator starts
                # (persistent workers: only the first time): start it before seeding, so the draws below are
                # the same in every round and for any num_workers.
                batches = iter(self._loader)
                torch.manual_seed(self.seed)
                for data_batch in batches:
                    data = preprocessor(data_batch, True)
                    _, log_vars = model.parse_losses(model(**data, mode='loss'))
                    images = len(data['data_samples'])
                    for key, value in log_vars.items():
                        if 'loss' in key:
                            sums[key] += float(value) * images
                    sums['images'] += images
        finally:
            if batch_augments is not None:
                preprocessor.batch_augments = batch_augments
        sums = {key: value.to(next(model.parameters()).device) for key, value in sums.items()}
        all_reduce_dict(sums, op='sum')
        images = float(sums.pop('images', 0))
        return {key: float(value) / images for key, value in sums.items()} if images else {}
