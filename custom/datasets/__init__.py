"""Registered dataset classes, one per source, each producing MMDetection's middle format (plugins)."""

from custom.datasets.base import ProjectDataset
from custom.datasets.kitti import KittiDataset
from custom.datasets.pennfudan import PennFudanDataset
from custom.datasets.voc_xml import VOCXMLDataset

__all__ = ['KittiDataset', 'PennFudanDataset', 'ProjectDataset', 'VOCXMLDataset']
