# KITTI 2D object labels, boxes only (custom/datasets/kitti.py).
_base_ = './detection.py'

dataset_type = 'KittiDataset'
data_root = 'data/kitti/'
# Your classes, as KITTI spells them (or rename with class_map). DontCare and every other class
# (Van, Truck, Person_sitting, Tram, Misc) become ignored regions.
classes = ('Car', 'Pedestrian', 'Cyclist')
class_map = None  # e.g. dict(Van='Car') to train vans as cars
metainfo = dict(classes=classes)
# KITTI's own layout; ImageSets/*.txt hold label stems (e.g. the common 3712/3769 train/val split).
kitti = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, class_map=class_map,
             data_prefix=dict(img='training/image_2/', ann='training/label_2/'))

train_dataloader = dict(dataset=dict(**kitti, ann_file='ImageSets/train.txt'))
val_dataloader = dict(dataset=dict(**kitti, ann_file='ImageSets/val.txt'))
test_dataloader = val_dataloader
