# detection.py plus instance masks: annotations load masks, and COCO evaluation adds segm, listed first so
# the run is judged by it (save_best='auto' in _base_/default_runtime.py).
_base_ = './detection.py'

train_pipeline = [dict(step, with_mask=True) if step['type'] == 'LoadAnnotations' else step
                  for step in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(metric=['segm', 'bbox'])
test_evaluator = val_evaluator
