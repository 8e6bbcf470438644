# VGG Image Annotator (VIA 1.x/2.x) region exports (custom/datasets/via.py), laid out as in MMDetection's
# balloon tutorial: train/ and val/ each hold their images and a via_region_data.json.
_base_ = './instance.py'

dataset_type = 'VIADataset'
data_root = 'data/balloon/'
classes = ('balloon',)
# None: every region is the one class above. With several classes, name the region attribute that holds the
# class (e.g. 'name'); regions of other classes are skipped and counted.
class_attribute = None
# None: every region is an object. Drafts (tools/pre_annotate.py) give the pieces of one object the same
# 'group' attribute and name the class in 'class': set class_attribute = 'class', group_attribute = 'group'.
group_attribute = None
metainfo = dict(classes=classes)
via = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, class_attribute=class_attribute,
           group_attribute=group_attribute)

train_dataloader = dict(
    dataset=dict(**via, ann_file='train/via_region_data.json', data_prefix=dict(img='train/')))
val_dataloader = dict(dataset=dict(**via, ann_file='val/via_region_data.json', data_prefix=dict(img='val/')))
test_dataloader = val_dataloader
