"""Model parts a run loads from its config (plugins): Mask R-CNN variants that predict the same, faster."""

from custom.models.fast_mask_rcnn import FastMaskRCNN, SeparablePasteMaskHead, paste_masks_separable

__all__ = ['FastMaskRCNN', 'SeparablePasteMaskHead', 'paste_masks_separable']
