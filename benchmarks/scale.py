"""Scale benchmark: how long the data tools, COCO evaluation and the analysis reports take on 1k-50k images.

    .venv/bin/python -m benchmarks.scale --data-root /tmp/scale --sizes 1000 10000 50000 --workers 2

For each size a synthetic data set (benchmarks/synthetic.py: ~10 objects per image, COCO json with polygon and
with RLE masks, labelme, VIA, and predictions) is made once under ``DATA_ROOT/<size>/``, then every step runs
in a fresh process, which reports its wall time and its peak resident memory (the process's, after the
imports it shares with every step, and with them):

    image_sizes:<how>    every image's size read from its header (read_image_size) or by decoding it (cv2);
                         on another folder of images: --step image_sizes:header --data-root FOLDER
    construct:<format>   the dataset a training run builds (parse, image checks, mmengine's serialisation)
    validate:<format>@N  tools/validate_dataset.py on the source (decodes every image) in N processes
    make:<n>             making the synthetic set (once per size; not in the table)
    make_splits          tools/make_splits.py --val-fraction 0.2 (parses every image for its classes)
    kfold_splits         the 5 fold split files tools/kfold.py writes (custom/data_tools/splitting.py)
    evaluate:<iou>:<backend>  COCO evaluation of predictions.json as CocoMetric runs it (evaluate_results in
                         custom/evaluation/coco_metric.py), faster-coco-eval and pycocotools; the two
                         backends' summaries must agree to 1e-4 or the benchmark fails
    load_predictions     a tools/test.py --out pickle to the analysis tools' records
                         (custom/analysis/predictions.py)
    error_report         tools/error_report.py's report (segm) without overlays or PR curves
    confusion:<iou>      the confusion matrix (custom/evaluation/confusion.py)

Results go to ``DATA_ROOT/scale_results.json`` as each step finishes (a long run can be watched and keeps what
it measured), with the load average before and after each step; at the end a table with the time per 1k
images. The 1-minute load average says how busy the (shared) machine was.
"""

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from benchmarks.synthetic import CLASSES, make_synthetic
from custom.datasets.images import IMAGE_SUFFIXES, read_image_size

FORMATS = ('coco_polygon', 'coco_rle', 'labelme', 'via')
IOU_TYPES = ('bbox', 'segm')
BACKENDS = ('faster_coco_eval', 'pycocotools')
AGREEMENT = 1e-4  # the largest difference allowed between the backends' AP/AR
RESULTS_FILE = 'scale_results.json'


def source_cfg(root: Path, fmt: str, with_classes: bool = True) -> dict:
    """The dataset config of one form of the synthetic set (as a config or the data tools would give it)."""
    from custom.cli.arguments import source_config

    classes = CLASSES if with_classes else None
    if fmt == 'labelme':
        return source_config('labelme', root / 'labelme', '', classes)
    if fmt == 'via':
        return source_config('via', root, 'via.json', classes, data_prefix=dict(img='images/'),
                             options=dict(class_attribute='class'))
    return source_config('coco', root, f'{fmt}.json', classes, data_prefix=dict(img='images/'))


def source_args(root: Path, fmt: str) -> list[str]:
    """The command line of a data tool for one form of the synthetic set, without --classes."""
    if fmt == 'labelme':
        return ['labelme', str(root / 'labelme')]
    if fmt == 'via':
        return ['via', str(root), '--split', 'via.json', '--data-prefix', 'img=images/', '--dataset-options',
                'class_attribute=class']
    return ['coco', str(root), '--split', f'{fmt}.json', '--data-prefix', 'img=images/']


def quiet_main(main, argv: list[str]) -> int:
    """A tool's main() with its output swallowed (it prints a line per finding)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


class Stopwatch:
    """Wall time and CPU time (this process and its finished children: the validator's workers) between
    ``start()`` and ``stop()``; the CPU time says what a step costs when the shared machine is busy."""

    def start(self) -> None:
        self.started, self.cpu_started = time.perf_counter(), self.cpu()
        self.seconds = self.cpu_seconds = None

    def stop(self) -> None:
        if self.seconds is None:
            self.seconds = time.perf_counter() - self.started
            self.cpu_seconds = self.cpu() - self.cpu_started

    @staticmethod
    def cpu() -> float:
        return sum(usage.ru_utime + usage.ru_stime for usage in (resource.getrusage(resource.RUSAGE_SELF),
                                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def run_step(step: str, root: Path, watch: Stopwatch) -> dict:
    """Runs one step in this process between ``watch.start()`` and ``watch.stop()`` (what is prepared before
    or counted after is not timed); returns what it reports (counts, summaries)."""
    kind, _, detail = step.partition(':')
    if kind == 'make':
        watch.start()
        make_synthetic(root, int(detail))
        return {}
    if kind == 'image_sizes':  # the data sets' way (the header) against decoding, over every image
        folder = root / 'images' if (root / 'images').is_dir() else root
        paths = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        watch.start()
        if detail == 'header':
            sizes = [read_image_size(path) for path in paths]
        else:
            sizes = [cv2.imread(str(path)).shape[1::-1] for path in paths]
        watch.stop()
        return dict(images=len(paths), distinct_sizes=len(set(map(tuple, sizes))))
    if kind == 'construct':
        from custom.datasets.builder import build_dataset

        watch.start()
        dataset = build_dataset(dict(source_cfg(root, detail), pipeline=[]))
        watch.stop()
        return dict(images=len(dataset), objects=sum(len(dataset.get_data_info(i)['instances'])
                                                    for i in range(len(dataset))))
    if kind == 'validate':
        from custom.cli.validate_dataset import main

        fmt, _, processes = detail.partition('@')
        watch.start()
        status = quiet_main(main, [*source_args(root, fmt), '--workers', processes or '1'])
        return dict(exit_status=status)
    if kind == 'make_splits':
        from custom.cli.make_splits import main

        with tempfile.TemporaryDirectory() as out:
            watch.start()
            quiet_main(main, [*source_args(root, 'coco_polygon'), '--val-fraction', '0.2', '--out-dir', out])
            return dict(val=len(Path(out, 'val.txt').read_text().split()))
    if kind == 'kfold_splits':
        from custom.data_tools.splitting import selected_images, write_folds

        with tempfile.TemporaryDirectory() as out:
            watch.start()
            written = write_folds(selected_images(source_cfg(root, 'coco_polygon')), out, 5)
            return dict(folds=len(written))
    if kind == 'evaluate':
        from custom.evaluation.coco_metric import evaluate_results

        iou_type, backend = detail.split(':')
        results = json.loads((root / 'predictions.json').read_text())
        watch.start()
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator = evaluate_results(root / 'coco_rle.json', results, iou_type, backend)
        return dict(stats=[float(v) for v in evaluator.stats], results=len(results))
    from custom.analysis.predictions import load_records

    watch.start()
    records, _ = load_records(root / 'predictions.pkl', with_masks=True)
    if kind == 'load_predictions':
        return dict(records=len(records))
    watch.start()  # the records are the input of the next two: not timed
    if kind == 'error_report':
        from custom.analysis.error_report import write_error_report

        with tempfile.TemporaryDirectory() as out:
            summary = write_error_report(records, list(CLASSES), out, 'segm', worst=0)['summary']
        return dict(summary=summary)
    if kind == 'confusion':
        from custom.evaluation.confusion import confusion_matrix

        matrix = confusion_matrix(records, detail, len(CLASSES))
        return dict(total=int(matrix.sum()))
    raise SystemExit(f'unknown step {step!r}')


def peak_memory_mb() -> float:
    """This process's peak resident memory: Linux's VmHWM, which starts again at exec (``ru_maxrss`` keeps the
    parent's peak across it); ``ru_maxrss`` elsewhere."""
    status = Path('/proc/self/status')
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_in_this_process(step: str, root: Path) -> None:
    """Prints one json line: the step's wall time, peak memory and what it reports."""
    import custom.datasets  # noqa: F401  (the imports every step shares, before the baseline)
    import custom.evaluation  # noqa: F401

    baseline = peak_memory_mb()
    watch = Stopwatch()
    report = run_step(step, root, watch)
    watch.stop()  # the validator's workers are forks of this process: their pages are mostly its own
    print(json.dumps(dict(seconds=watch.seconds, cpu_seconds=watch.cpu_seconds, peak_mb=peak_memory_mb(),
                          baseline_mb=baseline, **report)))


def measure(step: str, root: Path) -> dict:
    """One step in a fresh process, with the load average around it."""
    load_before = os.getloadavg()
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    command = [sys.executable, '-m', 'benchmarks.scale', '--data-root', str(root), '--step', step]
    process = subprocess.run(command, capture_output=True, text=True, env=env)
    if process.returncode:
        raise SystemExit(f'step {step} failed:\n{process.stderr[-3000:]}')
    result = json.loads(process.stdout.strip().splitlines()[-1])
    return dict(result, step=step, load_before=load_before, load_after=os.getloadavg())


def steps_for(workers: int) -> list[str]:
    steps = ['image_sizes:header', 'image_sizes:decode'] + [f'construct:{fmt}' for fmt in FORMATS]
    steps += [f'validate:{fmt}@1' for fmt in FORMATS]
    if workers > 1:
        steps += [f'validate:{fmt}@{workers}' for fmt in FORMATS]
    steps += ['make_splits', 'kfold_splits']
    steps += [f'evaluate:{iou}:{backend}' for iou in IOU_TYPES for backend in BACKENDS]
    steps += ['load_predictions', 'error_report', 'confusion:segm', 'confusion:bbox']
    return steps


def check_agreement(results: dict[str, dict]) -> list[str]:
    """The evaluation steps whose backends disagree by more than AGREEMENT (none: empty)."""
    problems = []
    for iou in IOU_TYPES:
        fast, reference = (results.get(f'evaluate:{iou}:{backend}') for backend in BACKENDS)
        if fast and reference:
            difference = max(abs(a - b) for a, b in zip(fast['stats'], reference['stats'], strict=True))
            if difference > AGREEMENT:
                problems.append(f'{iou}: the backends differ by {difference:.2e}')
    return problems


def save(results: dict, path: Path) -> None:
    partial = path.with_name(f'{path.name}.part')
    partial.write_text(json.dumps(results, indent=1))
    os.replace(partial, path)


def table(results: dict) -> str:
    """Markdown: a row per step, per size its wall time, CPU time, both per 1k images, peak memory (above the
    imports every step shares) and the 1-minute load average when it started."""
    sizes = sorted(results, key=int)
    columns = [f'{int(n):,} images: wall s, CPU s, per 1k wall / CPU, peak MB (+ above imports), load'
               for n in sizes]
    lines = ['| step | ' + ' | '.join(columns) + ' |', '|---' * (len(sizes) + 1) + '|']
    for step in (step for step in results[sizes[-1]] if step != 'make'):
        cells = []
        for n in sizes:
            entry = results[n].get(step)
            thousands = int(n) / 1000
            cells.append('' if entry is None else
                         f'{entry["seconds"]:.1f}, {entry["cpu_seconds"]:.1f}, '
                         f'{entry["seconds"] / thousands:.2f} / {entry["cpu_seconds"] / thousands:.2f}, '
                         f'{entry["peak_mb"]:.0f} (+{entry["peak_mb"] - entry["baseline_mb"]:.0f}), '
                         f'{entry["load_before"][0]:.1f}')
        lines.append(f'| {step} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', required=True, type=Path,
                        help='where the synthetic data sets are made (DATA_ROOT/<size>/) and results written')
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 10000, 50000], help='images per set')
    parser.add_argument('--workers', type=int, default=2, help='processes of the validator run beside 1')
    parser.add_argument('--only', nargs='+', help='run only the steps starting with these names')
    parser.add_argument('--step', help=argparse.SUPPRESS)  # one step in this process (what measure() runs)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.step:
        step_in_this_process(args.step, args.data_root)
        return 0
    results_path = args.data_root / RESULTS_FILE
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    failures = []
    for n in args.sizes:
        root = args.data_root / str(n)
        per_size = results.setdefault(str(n), {})
        if not (root / 'predictions.pkl').is_file():
            per_size['make'] = measure(f'make:{n}', root)
            save(results, results_path)
        for step in steps_for(args.workers):
            if args.only and not any(step.startswith(name) for name in args.only):
                continue
            per_size[step] = measure(step, root)
            entry = per_size[step]
            print(f"{n} images  {step:<36} {entry['seconds']:8.2f} s  CPU {entry['cpu_seconds']:7.2f} s  "
                  f'peak {entry["peak_mb"]:6.0f} MB  load {entry["load_before"][0]:.1f}', flush=True)
            save(results, results_path)
        failures += [f'{n} images, {problem}' for problem in check_agreement(per_size)]
    print(table(results))
    for failure in failures:
        print(f'error: {failure}', file=sys.stderr)
    return int(bool(failures))


if __name__ == '__main__':
    sys.exit(main())
