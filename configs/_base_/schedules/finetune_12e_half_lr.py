# finetune_12e.py at half its lr, for the models MMDetection trains at lr 0.01 (not 0.02) for 16 images per
# step (RetinaNet, SOLOv2): scaled linearly to batch 2 -> 0.00125.
_base_ = './finetune_12e.py'

optim_wrapper = dict(optimizer=dict(lr=0.00125))
