# SOLOv2 R50-FPN fine-tuned from COCO on Penn-Fudan pedestrians. SOLOv2 predicts masks only (its boxes are
# all zero), so it is evaluated on segm alone.
_base_ = [
    './_base_/models/solov2_r50_fpn.py',
    './_base_/datasets/pennfudan.py',
    './_base_/schedules/finetune_12e.py',
    './_base_/default_runtime.py',
]

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/solov2/solov2_r50_fpn_1x_coco/'
             'solov2_r50_fpn_1x_coco_20220512_125858-a357fa23.pth')
model = dict(backbone=dict(init_cfg=None),  # load_from holds every weight
             mask_head=dict(num_classes=len(_base_.classes)))
# SOLOv2's lr 0.01 for 16 images per step, scaled linearly to batch 2; its gradient clipping.
optim_wrapper = dict(optimizer=dict(lr=0.00125), clip_grad=dict(max_norm=35, norm_type=2))
val_evaluator = dict(metric=['segm'])
test_evaluator = val_evaluator
