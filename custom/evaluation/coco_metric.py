"""PerClassCocoMetric: MMDetection's CocoMetric with per-class AP that keeps the mean AP the run is judged by.

With ``classwise=True``, MMDetection 3.3's CocoMetric names each class's AP ``<class>_precision``, without
the metric, so when segm and bbox are both evaluated bbox's value overwrites segm's under the same name; and
it lists these before the means, so the first metric (what ``save_best='auto'`` and early stopping judge by)
becomes the first class's AP instead of ``coco/segm_mAP``. This metric evaluates one iou type at a time
and returns the means first, then ``<metric>_AP_<class>`` (``coco/segm_AP_pedestrian``); with one class it
adds none (that AP is the mean). Everything else is CocoMetric's.
"""

from collections import OrderedDict

from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS

CLASS_AP_SUFFIX = '_precision'  # how CocoMetric names one class's AP


@METRICS.register_module()
class PerClassCocoMetric(CocoMetric):
    """CocoMetric; with ``classwise=True`` and several classes, ``<metric>_AP_<class>`` after the means."""

    def compute_metrics(self, results: list) -> dict[str, float]:
        if not self.classwise:
            return super().compute_metrics(results)
        metrics = self.metrics
        means, per_class = OrderedDict(), OrderedDict()
        self.classwise = len((self.dataset_meta or {}).get('classes', ())) > 1
        try:
            for metric in metrics:
                self.metrics = [metric]
                for key, value in super().compute_metrics(results).items():
                    if key.endswith(CLASS_AP_SUFFIX):
                        per_class[f'{metric}_AP_{key[:-len(CLASS_AP_SUFFIX)]}'] = value
                    else:
                        means[key] = value
        finally:
            self.metrics, self.classwise = metrics, True
        return OrderedDict(**means, **per_class)
