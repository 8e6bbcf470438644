# Penn-Fudan pedestrians with instance masks (custom/datasets/pennfudan.py): 120 train / 50 val images listed
# in splits/ (tools/download_pennfudan.py writes them); folders default to the archive's layout.
_base_ = './instance.py'

dataset_type = 'PennFudanDataset'
data_root = 'data/PennFudanPed/'
classes = ('pedestrian',)
metainfo = dict(classes=classes, palette=[(220, 20, 60)])

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo, ann_file='splits/train.txt'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo, ann_file='splits/val.txt'))
test_dataloader = val_dataloader
