# Faster R-CNN R50-FPN fine-tuned from COCO on KITTI 2D object labels (boxes only).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['custom'], allow_failed_imports=False)

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r50_fpn_1x_coco/'
             'faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth')

# Your classes, as KITTI spells them (or rename with class_map). DontCare and every other class
# (Van, Truck, Person_sitting, Tram, Misc) become ignored regions.
classes = ('Car', 'Pedestrian', 'Cyclist')
class_map = None  # e.g. dict(Van='Car') to train vans as cars
metainfo = dict(classes=classes)
model = dict(roi_head=dict(bbox_head=dict(num_classes=len(classes))))

dataset_type = 'KittiDataset'
data_root = 'data/kitti/'
# KITTI's own layout; ImageSets/*.txt hold label stems (e.g. the common 3712/3769 train/val split).
data_prefix = dict(img='training/image_2/', ann='training/label_2/')
image_scale = (1333, 800)  # KITTI frames are ~1242x375: the long side limits, about 1.07x

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
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

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/train.txt',
        data_prefix=data_prefix,
        metainfo=metainfo,
        class_map=class_map,
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/val.txt',
        data_prefix=data_prefix,
        metainfo=metainfo,
        class_map=class_map,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# Ignored regions reach the metric as iscrowd=1, so detections inside DontCare areas are not false positives.
val_evaluator = dict(_delete_=True, type='CocoMetric', metric=['bbox'], ann_file=None)
test_evaluator = val_evaluator

# lr 0.02 is MMDetection's for 16 images per step; scaled linearly to the default batch 2 -> 0.0025.
optim_wrapper = dict(optimizer=dict(lr=0.0025))
auto_scale_lr = dict(enable=False, base_batch_size=2)
