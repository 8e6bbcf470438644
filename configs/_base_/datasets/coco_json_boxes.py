# coco_json.py without masks: a COCO json of boxes only (annotations without a segmentation, as detection
# exports write them), COCO box evaluation. require_masks=False lets CocoJsonDataset read such annotations.
_base_ = './coco_json.py'

train_pipeline = [dict(step, with_mask=False) if step['type'] == 'LoadAnnotations' else step
                  for step in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(require_masks=False, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(require_masks=False))
test_dataloader = val_dataloader
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
