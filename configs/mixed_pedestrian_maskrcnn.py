# Mask R-CNN on pedestrians from three sources at once: Penn-Fudan + VOC 'person' + KITTI 'Pedestrian'.
# Everything else (model with num_classes=1, schedule, Penn-Fudan validation) comes from the base.
_base_ = './pennfudan_maskrcnn.py'

# All three sources get the base's exact metainfo; class_map renames each source's name for a pedestrian.
metainfo = _base_.metainfo
train_filter = dict(filter_empty_gt=True, min_size=8)

penn_fudan = dict(
    type='PennFudanDataset',
    data_root=_base_.data_root,
    ann_file='splits/train.txt',
    metainfo=metainfo,
    filter_cfg=train_filter,
    pipeline=_base_.train_pipeline)
voc_persons = dict(
    type='VOCXMLDataset',
    data_root='data/VOCdevkit/VOC2012/',
    ann_file='ImageSets/Segmentation/train.txt',  # images that have SegmentationObject masks
    with_mask=True,
    class_map=dict(person='pedestrian'),  # other VOC classes are skipped; images without persons filtered
    metainfo=metainfo,
    filter_cfg=train_filter,
    pipeline=_base_.train_pipeline)
kitti_pedestrians = dict(
    type='KittiDataset',
    data_root='data/kitti/',
    ann_file='ImageSets/train.txt',
    data_prefix=dict(img='training/image_2/', ann='training/label_2/'),
    class_map=dict(Pedestrian='pedestrian'),  # Person_sitting, Cyclist, cars, DontCare: ignored regions
    box_masks=True,  # KITTI has no masks: filled boxes stand in (coarse mask supervision)
    metainfo=metainfo,
    filter_cfg=train_filter,
    pipeline=_base_.train_pipeline)

# mmengine's ConcatDataset raises when the sources' metainfo differs; mmdet's would silently turn the
# metainfo into a per-source list.
train_dataloader = dict(
    dataset=dict(
        _delete_=True, type='mmengine.ConcatDataset', datasets=[penn_fudan, voc_persons, kitti_pedestrians]))
# Note: an epoch is now every image of all three sources; shorten max_epochs in train_cfg to taste.
