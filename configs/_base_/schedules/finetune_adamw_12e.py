# finetune_12e.py with AdamW, for the models MMDetection trains with AdamW (RTMDet, Mask2Former).
_base_ = './finetune_12e.py'

# MMDetection's RTMDet uses lr 0.004 for 256 images per step; for Adam the square-root rule scales it to
# batch 2: 0.004 * sqrt(2 / 256) = 3.5e-4. No weight decay on norms and biases, as RTMDet.
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=3.5e-4, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, bypass_duplicate=True))
