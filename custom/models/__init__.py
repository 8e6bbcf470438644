"""Model parts a run loads from its config (plugins): Mask R-CNN variants that predict the same, faster."""

from custom.models.fast_mask_rcnn import FastMaskRCNN, SeparablePasteMaskHead, paste_masks_separable
from custom.models.roi_align import SparseRoIAlign, SparseRoIExtractor, sparse_roi_align

__all__ = ['FastMaskRCNN', 'SeparablePasteMaskHead', 'SparseRoIAlign', 'SparseRoIExtractor',
           'paste_masks_separable', 'sparse_roi_align']
