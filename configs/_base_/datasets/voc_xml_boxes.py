# voc_xml.py without masks: XML boxes only, on the detection splits (ImageSets/Main), COCO box evaluation.
_base_ = './voc_xml.py'

train_pipeline = [dict(step, with_mask=False) if step['type'] == 'LoadAnnotations' else step
                  for step in _base_.train_pipeline]
train_dataloader = dict(
    dataset=dict(with_mask=False, ann_file='ImageSets/Main/train.txt', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(with_mask=False, ann_file='ImageSets/Main/val.txt'))
test_dataloader = val_dataloader
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
