# A COCO instances json per split (what CVAT, Label Studio, Roboflow and labelme2coco export), read by
# CocoJsonDataset (custom/datasets/coco_json.py): MMDetection's CocoDataset reading plus the project's checks.
_base_ = './instance.py'

dataset_type = 'CocoJsonDataset'
data_root = 'data/my_coco/'
# Your classes, spelled as the json's category names (or rename them with class_map). A class that matches no
# category stops loading and lists the nearest names; annotations of other categories are skipped and counted.
classes = ('person',)
class_map = None  # e.g. dict(pedestrian='person')
metainfo = dict(classes=classes)
# Each image is data_prefix img + its file_name in the json (CVAT: images/; Roboflow: the json's own folder).
coco = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, class_map=class_map,
            data_prefix=dict(img='images/'))

# One json per split (CVAT exports each task or subset as annotations/instances_default.json: rename it, or
# export the whole set once and split it with split_file=, see docs/own_annotations.md).
train_dataloader = dict(dataset=dict(**coco, ann_file='annotations/train.json'))
val_dataloader = dict(dataset=dict(**coco, ann_file='annotations/val.json'))
test_dataloader = val_dataloader
