# Offline CPU demo: the Penn-Fudan config trained on a synthetic data set in the same on-disk layout
# (python tools/make_demo_data.py data/pennfudan_demo), on small images and with nothing downloaded:
# no COCO checkpoint and no ImageNet backbone, so the backbone trains from scratch with live BN.
_base_ = './pennfudan_maskrcnn.py'

load_from = None
data_root = 'data/pennfudan_demo/'
image_scale = (160, 128)

model = dict(
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False,
                  norm_cfg=dict(type='BN', requires_grad=True)),
    # Small images hold a few people each: fewer proposals and sampled RoIs make CPU steps much cheaper.
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300), rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'instances')),
]
train_dataloader = dict(batch_size=4, num_workers=2,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

# 60 images at batch 4 = 15 iterations per epoch; 20 epochs = 300 iterations.
max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[15, 18], gamma=0.1),
]
# Training from scratch tolerates a higher rate than fine-tuning: 0.02 for batch 4.
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10.0))
auto_scale_lr = dict(base_batch_size=4)
default_hooks = dict(logger=dict(interval=5), visualization=dict(interval=5))
