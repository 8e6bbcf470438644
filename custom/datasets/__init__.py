"""Registered dataset classes, one per source, each producing MMDetection's middle format (plugins)."""

from custom.datasets.base import ProjectDataset
from custom.datasets.coco_json import CocoJsonDataset
from custom.datasets.kitti import KittiDataset
from custom.datasets.label_studio import LabelStudioDataset
from custom.datasets.labelme import LabelmeDataset
from custom.datasets.pennfudan import PennFudanDataset
from custom.datasets.via import VIADataset
from custom.datasets.voc_xml import VOCXMLDataset

__all__ = ['CocoJsonDataset', 'KittiDataset', 'LabelStudioDataset', 'LabelmeDataset', 'PennFudanDataset',
           'ProjectDataset', 'VIADataset', 'VOCXMLDataset']
