# Label Studio's JSON export (Export > JSON), read by LabelStudioDataset (custom/datasets/label_studio.py):
# polygons, rectangles, ellipses and brush masks in percent of the image; each task's image is found by the
# file name in its URL (uploads, local-files storage) under data_prefix img.
_base_ = './instance.py'

dataset_type = 'LabelStudioDataset'
data_root = 'data/my_labelstudio/'
# Your classes, spelled as the regions' labels (or rename them with class_map); regions of other labels are
# skipped and counted.
classes = ('person',)
class_map = None
metainfo = dict(classes=classes)
# image_key: the task data field of the image ($image in the labelling config); results='annotations' reads
# what people labelled ('predictions': what a model drafted).
labelstudio = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, class_map=class_map,
                   ann_file='export.json', data_prefix=dict(img='images/'), image_key='image',
                   results='annotations')

# One export for every image; split files list image names:
# python tools/make_splits.py labelstudio data/my_labelstudio --split export.json --data-prefix img=images/
train_dataloader = dict(dataset=dict(**labelstudio, split_file='splits/train.txt'))
val_dataloader = dict(dataset=dict(**labelstudio, split_file='splits/val.txt'))
test_dataloader = val_dataloader
