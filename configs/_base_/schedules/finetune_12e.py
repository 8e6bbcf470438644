# Fine-tuning a COCO-pretrained detector on a small data set: 12 epochs, validation after each, lr drop after
# epochs 8 and 11, a short warm-up.
max_epochs = 12
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
# lr 0.02 is MMDetection's for 16 images per step; scaled linearly to batch 2 -> 0.0025.
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.0025, momentum=0.9, weight_decay=0.0001))
# --auto-scale-lr rescales from this batch to the real one (GPUs x batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=2)
