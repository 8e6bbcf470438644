"""Checks of ``--cfg-options`` before they are merged: each option must change something the run reads.

mmengine merges any ``key=value`` and adds what does not exist, so three mistakes pass in silence or end in a
traceback far from the flag:

* a top-level config variable (``max_epochs=2``, ``classes=...``, ``data_root=...``): the config file used it
  when it was read, so setting it afterwards changes nothing. The error names the keys that hold its value.
* a misspelt key (``train_cfg.max_epoch=2``): a new key beside an existing one it nearly matches.
* a value of another kind than the config's (``train_dataloader.batch_size=abc`` where the config has 2).
"""

import difflib
from collections.abc import Iterator
from typing import Any

from custom.errors import ConfigError

# The top-level keys a run reads after the file is parsed: those mmengine's Runner.from_cfg takes, plus
# mmengine's and the project's own (custom_imports, default_scope, the --tta wrapper, runner_type). Any other
# top-level name is a variable of the config file.
READ_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg', 'val_cfg',
    'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
    'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from', 'resume', 'launcher', 'env_cfg',
    'log_processor', 'log_level', 'visualizer', 'default_scope', 'randomness', 'experiment_name',
    'model_wrapper_cfg', 'resource_limit', 'compile', 'cudnn_benchmark', 'activation_checkpointing',
    'efficient_conv_bn_eval', 'find_unused_parameters', 'sync_bn', 'dist_cfg', 'mp_cfg', 'custom_imports',
    'tta_model', 'tta_pipeline', 'runner_type',
})
# Top-level variables that a tool flag sets everywhere they are used.
FLAG_FOR_VARIABLE = {'data_root': '--data-root DIR', 'classes': '--classes NAME [NAME ...]',
                     'num_classes': '--classes NAME [NAME ...]', 'metainfo': '--classes NAME [NAME ...]',
                     'image_scale': '--img-scale WIDTH HEIGHT'}
# A new key this close to an existing sibling is taken for a misspelling of it (max_epoch / max_epochs: 0.95).
TYPO_CUTOFF = 0.85


def check_cfg_options(cfg: Any, options: dict[str, Any]) -> None:
    """Raises ConfigError naming the first option that would change nothing, name a misspelt key or give a
    value of another kind than the config holds; ``options`` as parsed by mmengine's DictAction."""
    cfg = cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg  # mmengine's Config is no dict; its content is
    for key, value in options.items():
        parts = key.split('.')
        if parts[0] not in READ_KEYS:
            raise ConfigError(_variable_message(cfg, key, parts[0]))
        node: Any = cfg
        for depth, part in enumerate(parts):
            where = '.'.join(parts[:depth + 1])
            if isinstance(node, list | tuple):
                if not (part.isdigit() and int(part) < len(node)):
                    raise ConfigError(f'--cfg-options {key}: {".".join(parts[:depth])} is a list of '
                                      f'{len(node)} items, so {part} is not one of its indices')
                node = node[int(part)]
                continue
            if not isinstance(node, dict) or part not in node:
                _check_new_key(node, key, where, part)
                break
            node = node[part]
        else:
            _check_kind(node, value, key)


def _variable_message(cfg: Any, key: str, name: str) -> str:
    if name not in cfg:
        close = difflib.get_close_matches(name, sorted(READ_KEYS), n=1, cutoff=0.6)
        hint = f' (did you mean {close[0]}?)' if close else ''
        return f'--cfg-options {key}: the config has no key {name!r}{hint}, so this changes nothing'
    message = (f'--cfg-options {key}: {name} is a variable of the config file, used when the file was read, '
               'so setting it now changes nothing.')
    if name in FLAG_FOR_VARIABLE:
        return f'{message} Use {FLAG_FOR_VARIABLE[name]} instead, which sets it everywhere it is used.'
    holders = [path for path, held in _walk(cfg) if path.split('.')[0] in READ_KEYS and held == cfg[name]]
    if holders:
        listed = ', '.join(holders[:6]) + (f' (and {len(holders) - 6} more)' if len(holders) > 6 else '')
        return f'{message} Set the keys that hold its value ({cfg[name]!r}) instead: {listed}'
    return message


def _check_new_key(node: Any, key: str, where: str, part: str) -> None:
    """A key the config lacks may be a new setting; refuse it only when it nearly matches an existing one."""
    if not isinstance(node, dict):
        return
    close = difflib.get_close_matches(part, [str(k) for k in node], n=1, cutoff=TYPO_CUTOFF)
    if close:
        nearest = where.rsplit('.', 1)[0] + '.' + close[0] if '.' in where else close[0]
        raise ConfigError(f'--cfg-options {key}: the config has no {where}; did you mean {nearest}?')


def _check_kind(current: Any, value: Any, key: str) -> None:
    """A number where the config has a number, text where it has text (None and containers are free)."""
    numbers = (int, float)
    if isinstance(current, numbers) and isinstance(value, str):
        raise ConfigError(f'--cfg-options {key}={value}: expected a number (the config has {current!r})')
    if isinstance(current, str) and isinstance(value, numbers) and not isinstance(value, bool):
        raise ConfigError(f'--cfg-options {key}={value}: expected text (the config has {current!r})')


def _walk(node: Any, prefix: str = '') -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every value in a nested config, lists indexed as mmengine's keys are."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list | tuple):
        items = enumerate(node)
    else:
        return
    for name, child in items:
        path = f'{prefix}.{name}' if prefix else str(name)
        yield path, child
        yield from _walk(child, path)
