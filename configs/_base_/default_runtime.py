# What every run of this project logs and keeps, on top of MMDetection's runtime (hooks, logging, env).
_base_ = 'mmdet::_base_/default_runtime.py'
# The model bases (_base_/models/) inherit this file rather than stand beside it in a config's _base_ list:
# they set load_from (their COCO checkpoint), which MMDetection's runtime sets too (None), and mmengine
# refuses a key that two bases of one list set.
custom_imports = dict(imports=['custom'], allow_failed_imports=False)

# save_best='auto' keeps the checkpoint that is best in the first metric the evaluator reports: the dataset
# bases list the metric a run is judged by first (segm for masks, bbox for boxes).
# val_loss adds val/loss, val/loss_* to each validation round's metrics (custom/engine/hooks/val_loss.py).
# early_stopping watches the same metric as save_best and stops after `patience` validation rounds (one every
# train_cfg.val_interval epochs) without a gain; 5 rounds is mmengine's default and under half of the 12-epoch
# fine-tuning schedule. A metric that stalls 5 rounds before an lr step stops the run before the step: raise
# patience for long plateaus, or turn it off with default_hooks.early_stopping=None (docs/monitoring.md).
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='auto'),
    visualization=dict(draw=True, interval=10),
    val_loss=dict(type='ValLossHook'),
    early_stopping=dict(type='JudgedMetricEarlyStoppingHook', patience=5))
# A tqdm bar over val/test runs when the output is a terminal (off in logs and CI).
custom_hooks = [dict(type='ProgressBarHook')]

# Scalars (losses, lr, every validation metric) and the validation images the visualization hook draws go to
# <work_dir>/<timestamp>/vis_data/: scalars.json (tools/analyze_logs.py) and TensorBoard event files
# (`tensorboard --logdir work_dirs`). W&B or MLflow: add dict(type='WandbVisBackend') or
# dict(type='MLflowVisBackend') here (README "Watching a run").
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(vis_backends=vis_backends)
