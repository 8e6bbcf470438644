# Mask R-CNN R50-FPN fine-tuned from COCO on VOC-style XML boxes + SegmentationObject instance masks.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['custom'], allow_failed_imports=False)

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r50_fpn_1x_coco/'
             'mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth')

# Your classes; class_map renames the XML <name>s first. Objects of other classes are skipped.
# Example: VOC persons only, trained as 'pedestrian'.
classes = ('pedestrian',)
class_map = dict(person='pedestrian')
metainfo = dict(classes=classes)
model = dict(
    roi_head=dict(bbox_head=dict(num_classes=len(classes)), mask_head=dict(num_classes=len(classes))))

dataset_type = 'VOCXMLDataset'
data_root = 'data/VOCdevkit/VOC2012/'
# img=, ann=, seg= default to JPEGImages/, Annotations/, SegmentationObject/.
data_prefix = dict(img='JPEGImages/', ann='Annotations/', seg='SegmentationObject/')
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

# with_mask needs a mask PNG per image: use the segmentation split, not ImageSets/Main.
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=data_prefix,
        with_mask=True,
        metainfo=metainfo,
        class_map=class_map,
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=data_prefix,
        with_mask=True,
        metainfo=metainfo,
        class_map=class_map,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='CocoMetric', metric=['bbox', 'segm'], ann_file=None)
test_evaluator = val_evaluator

# lr 0.02 is MMDetection's for 16 images per step; scaled linearly to the default batch 2 -> 0.0025.
optim_wrapper = dict(optimizer=dict(lr=0.0025))
auto_scale_lr = dict(enable=False, base_batch_size=2)
