# What every run of this project logs and keeps, on top of MMDetection's runtime (hooks, logging, env).
_base_ = 'mmdet::_base_/default_runtime.py'
custom_imports = dict(imports=['custom'], allow_failed_imports=False)

# save_best='auto' keeps the checkpoint that is best in the first metric the evaluator reports: the dataset
# bases list the metric a run is judged by first (segm for masks, bbox for boxes).
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='auto'),
    visualization=dict(draw=True, interval=10))
# A tqdm bar over val/test runs when the output is a terminal (off in logs and CI).
custom_hooks = [dict(type='ProgressBarHook')]
