# VOC-style XML boxes plus SegmentationObject instance masks (custom/datasets/voc_xml.py).
_base_ = './instance.py'

dataset_type = 'VOCXMLDataset'
data_root = 'data/VOCdevkit/VOC2012/'
# Your classes; class_map renames the XML <name>s first and objects of other classes are skipped.
# Example: VOC persons only, trained as 'pedestrian'.
classes = ('pedestrian',)
class_map = dict(person='pedestrian')
metainfo = dict(classes=classes)
# img=, ann=, seg= default to JPEGImages/, Annotations/, SegmentationObject/; with_mask needs a mask PNG per
# image, so the splits are the segmentation ones, not ImageSets/Main.
voc = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, class_map=class_map, with_mask=True)

train_dataloader = dict(dataset=dict(**voc, ann_file='ImageSets/Segmentation/train.txt'))
val_dataloader = dict(dataset=dict(**voc, ann_file='ImageSets/Segmentation/val.txt'))
test_dataloader = val_dataloader
