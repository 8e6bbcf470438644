# Mask2Former R50 (instance segmentation) fine-tuned from COCO on Penn-Fudan pedestrians.
_base_ = ['./_base_/models/mask2former_r50.py', './_base_/datasets/pennfudan.py',
          './_base_/schedules/finetune_adamw_12e.py']

num_classes = len(_base_.classes)
model = dict(
    # class_weight: one per class, then 0.1 for 'no object' (as MMDetection's config).
    panoptic_head=dict(num_things_classes=num_classes,
                       loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=num_classes))
# Mask2Former's lr 1e-4 for 16 images per step, square-root scaled to batch 2 (3.5e-5); its backbone at a
# tenth of it and its gradient clipping.
optim_wrapper = dict(optimizer=dict(lr=3.5e-5), clip_grad=dict(max_norm=0.01, norm_type=2),
                     paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.1))))
