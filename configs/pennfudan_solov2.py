# SOLOv2 R50-FPN fine-tuned from COCO on Penn-Fudan pedestrians. SOLOv2 predicts masks only (its boxes are
# all zero), so it is evaluated on segm alone.
_base_ = ['./_base_/models/solov2_r50_fpn.py', './_base_/datasets/pennfudan.py',
          './_base_/schedules/finetune_12e_half_lr.py']

model = dict(mask_head=dict(num_classes=len(_base_.classes)))
# SOLOv2's gradient clipping (its lr is the schedule's).
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
val_evaluator = dict(metric=['segm'])
test_evaluator = val_evaluator
