# Loaders, pipelines and COCO box evaluation that every source shares. A source base inherits this file
# (boxes) or instance.py (masks) and names its dataset; everything else comes from here.
backend_args = None
image_scale = (1333, 800)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
# 'instances' travels to CocoMetric, which builds its ground truth from it (no COCO json needed).
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'instances')),
]

# Loader settings keep a GPU fed: worker processes stay alive between epochs and batches are pinned
# (custom/engine/runtime.py turns pinning off on a machine without CUDA).
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(filter_cfg=dict(filter_empty_gt=True, min_size=8), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader

# Ignored instances reach the metric as iscrowd=1: detections on them are neither hits nor false positives.
# PerClassCocoMetric is CocoMetric plus one AP per class (coco/bbox_AP_<class>) when there are several,
# listed after the means so the first metric stays the mean AP the run is judged by (custom/evaluation/);
# evaluated by faster-coco-eval, which gives pycocotools' numbers faster (backend='pycocotools' for theirs).
val_evaluator = dict(type='PerClassCocoMetric', metric=['bbox'], ann_file=None, classwise=True)
test_evaluator = val_evaluator
