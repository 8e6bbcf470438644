# Mask R-CNN R50-FPN fine-tuned from COCO on Penn-Fudan pedestrians (120 train / 50 val images).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['custom'], allow_failed_imports=False)

# Offline: download the file once and pass `--cfg-options load_from=/path/to/file.pth`,
# or put it where the error message says (see README "Offline checkpoints").
load_from = ('https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r50_fpn_1x_coco/'
             'mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth')

classes = ('pedestrian',)
metainfo = dict(classes=classes, palette=[(220, 20, 60)])
model = dict(
    roi_head=dict(bbox_head=dict(num_classes=len(classes)), mask_head=dict(num_classes=len(classes))))

dataset_type = 'PennFudanDataset'
data_root = 'data/PennFudanPed/'
data_prefix = dict(img='PNGImages/', mask='PedMasks/', ann='Annotation/')
image_scale = (1333, 800)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
# 'instances' travels to CocoMetric, which builds its ground truth from it (no COCO json needed).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'instances')),
]

# Loader settings keep a GPU fed: worker processes stay alive between epochs and batches are pinned.
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='splits/train.txt',
        data_prefix=data_prefix,
        metainfo=metainfo,
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    pin_memory=True,
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='splits/val.txt',
        data_prefix=data_prefix,
        metainfo=metainfo,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='CocoMetric', metric=['bbox', 'segm'], ann_file=None)
test_evaluator = val_evaluator

# 60 iterations per epoch at batch 2: 12 epochs, lr drop after 8 and 11.
train_cfg = dict(max_epochs=12, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
# lr 0.02 is MMDetection's for 16 images per step; scaled linearly to batch 2 -> 0.0025.
optim_wrapper = dict(optimizer=dict(lr=0.0025))
# --auto-scale-lr rescales from this batch to the real one (GPUs x batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=2)

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='coco/segm_mAP', rule='greater'),
    visualization=dict(draw=True, interval=10))
# A tqdm bar over val/test runs when the output is a terminal (off in logs and CI).
custom_hooks = [dict(type='ProgressBarHook')]
