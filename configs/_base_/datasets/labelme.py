# A folder of labelme JSON files, one per image, with the images beside them or where imagePath points
# (custom/datasets/labelme.py).
_base_ = './instance.py'

dataset_type = 'LabelmeDataset'
data_root = 'data/my_labelme/'
# Your classes, spelled as the shapes' labels (or rename them with class_map); shapes of other labels are
# skipped and counted. Shapes labelled ignore_label are ignore regions (neither object nor background).
classes = ('person',)
class_map = None
metainfo = dict(classes=classes)
labelme = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, class_map=class_map,
               ignore_label='__ignore__')

# Split files list json stems: python tools/make_splits.py labelme data/my_labelme --classes person
train_dataloader = dict(dataset=dict(**labelme, ann_file='splits/train.txt'))
val_dataloader = dict(dataset=dict(**labelme, ann_file='splits/val.txt'))
test_dataloader = val_dataloader
