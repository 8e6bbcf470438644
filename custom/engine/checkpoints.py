"""Safe checkpoint loading and atomic checkpoint saving for mmengine runners.

Loading: torch >= 2.6 loads with ``weights_only=True`` and refuses any pickled global that is not
allow-listed, but mmengine 0.10.7 checkpoints carry a few (its HistoryBuffer, numpy arrays and
scalars in the message hub). We allow exactly those and nothing else, and route every local and
http(s) checkpoint through one loader that turns a refusal into a message naming the file and the
offending globals. There is no code path that loads with ``weights_only=False``.

Saving: mmengine writes checkpoints with a plain ``open(path, 'wb')``; a kill during the write
leaves a truncated file. The local storage backend is replaced by one that writes to a temporary
file in the same folder and renames it into place, which is atomic on POSIX file systems.
"""

import os
import pickle
import re
from pathlib import Path

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.fileio.io import backend_instances
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from custom.errors import CheckpointMismatchError, MissingFileError, UnsafeCheckpointError, shortened
from custom.files import write_atomic

# Everything an mmengine 0.10 / mmdet 3.x checkpoint (and OpenMMLab's model-zoo files) pickles
# beyond tensors and builtins: the message hub's HistoryBuffer and the numpy values inside it.
SAFE_GLOBALS = [
    HistoryBuffer,
    np.core.multiarray._reconstruct,
    np.core.multiarray.scalar,
    np.ndarray,
    np.dtype,
    *{type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32, np.bool_)},
]


def history_buffer_statistic(owner: type, name: str) -> object:
    """Stands in for ``getattr`` while unpickling, resolving only HistoryBuffer's statistics methods.

    HistoryBuffer pickles its statistics methods as ``getattr(HistoryBuffer, 'mean')``; allowing the
    real getattr would let a checkpoint reach any attribute of any allowed object.
    """
    allowed = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'getattr({owner!r}, {name!r}) is not allowed in a checkpoint')


torch.serialization.add_safe_globals([*SAFE_GLOBALS, (history_buffer_statistic, 'builtins.getattr')])
ALLOWED_NAMES = {f'{g.__module__}.{g.__qualname__}' for g in SAFE_GLOBALS} | {'builtins.getattr'}


def load_checkpoint_file(path: str | os.PathLike, map_location: str | None = None) -> dict:
    """torch.load with weights_only=True; a refusal names the file and the globals it carries."""
    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise MissingFileError(f'{path}: checkpoint file not found')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        unexpected = _unexpected_globals(path)
        raise UnsafeCheckpointError(
            f'{path}: refused to load: the checkpoint pickles Python objects that are not on the '
            f'allow-list in custom/engine/checkpoints.py ({", ".join(unexpected) or error}). Loading it '
            'could run arbitrary code. If you trust its source, re-save only its tensors (state_dict).'
        ) from error


def checkpoint_mismatches(model: torch.nn.Module, state_dict: dict[str, torch.Tensor]) -> list[str]:
    """Tensors of the model missing from the checkpoint, in the checkpoint only, or shaped differently."""
    state_dict = {re.sub(r'^module\.', '', key): value for key, value in state_dict.items()}
    expected = model.state_dict()
    reshaped = [f'{key} (checkpoint {tuple(value.shape)}, config {tuple(expected[key].shape)})'
                for key, value in state_dict.items()
                if key in expected and value.shape != expected[key].shape]
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    problems = []
    for what, keys in (('shaped differently', reshaped), ('missing from the checkpoint', missing),
                       ('in the checkpoint but not in the model', unexpected)):
        if keys:
            problems.append(f'{len(keys)} tensors {what}: {shortened(keys)}')
    return problems


def check_checkpoint_fits(model: torch.nn.Module, checkpoint: str | os.PathLike,
                          config: str | os.PathLike) -> None:
    """Refuses a checkpoint trained for another model or number of classes, which mmengine would load in part
    (with a warning among hundreds of log lines) and evaluate to AP 0. Names the tensors that differ and,
    when the checkpoint records them, the classes it was trained for. ``model`` may be wrapped (DDP, TTA)."""
    model = getattr(model, 'module', model)
    loaded = load_checkpoint_file(checkpoint, map_location='cpu')
    mismatches = checkpoint_mismatches(model, loaded.get('state_dict', loaded))
    if not mismatches:
        return
    trained_for = ((loaded.get('meta') or {}).get('dataset_meta') or {}).get('classes')
    hint = ''
    if trained_for:
        hint = (f'\nIt was trained for {len(trained_for)} classes {tuple(trained_for)}: use the config it '
                f'was trained with, or add --classes {" ".join(trained_for)}.')
    listed = '\n  '.join(mismatches)
    raise CheckpointMismatchError(f'{checkpoint} does not match {config}:\n  {listed}{hint}')


def fine_tuning_summary(model: torch.nn.Module, load_from: str) -> str | None:
    """One line naming the tensors of ``load_from`` that a fine-tuning run cannot take (mmengine loads the
    others and leaves these at their initial values: a COCO head's 81 classes against the data's classes, as
    intended), or None when every tensor fits."""
    model = getattr(model, 'module', model)
    loaded = CheckpointLoader.load_checkpoint(load_from, map_location='cpu')
    mismatches = checkpoint_mismatches(model, loaded.get('state_dict', loaded))
    if not mismatches:
        return None
    skipped = '; '.join(mismatches)
    return f'load_from {load_from}: all tensors are loaded but these, which keep their initial values: ' \
        + skipped


def _unexpected_globals(path: str) -> list[str]:
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a zip checkpoint: the torch error message is all we have
        return []
    return sorted(set(found) - ALLOWED_NAMES)


# mmengine logs 'Loads checkpoint by <function name minus its first 10 characters> backend'.
def load_from_safe_local(filename: str, map_location: str | None = None) -> dict:
    return load_checkpoint_file(filename, map_location)


def load_from_safe_http(filename: str, map_location: str | None = None) -> dict:
    from custom.engine.checkpoint_download import fetch_checkpoint

    return load_checkpoint_file(fetch_checkpoint(filename), map_location)


CheckpointLoader.register_scheme(prefixes='', loader=load_from_safe_local, force=True)
CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), loader=load_from_safe_http, force=True)


class AtomicLocalBackend(LocalBackend):
    """LocalBackend whose writes never leave a partial file at the destination."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        write_atomic(Path(filepath), obj)


register_backend('local', AtomicLocalBackend, force=True, prefixes='')
for key, backend in list(backend_instances.items()):
    if type(backend) is LocalBackend:
        del backend_instances[key]
