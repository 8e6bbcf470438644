"""Every module of benchmarks/ imports, and every one with a command line answers --help, in the project's
environment (no torchvision): a refactor cannot silently break a documented command. The modules are found by
globbing benchmarks/*.py, so a new script is covered without listing it here."""

import importlib
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

MODULES = sorted(path.stem for path in (REPO / 'benchmarks').glob('*.py') if path.stem != '__init__')
COMMANDS = [name for name in MODULES
            if "if __name__ == '__main__':" in (REPO / 'benchmarks' / f'{name}.py').read_text()]


def test_the_documented_benchmarks_are_found():
    assert {'matched_models', 'stages'} <= set(MODULES)
    assert {'torchvision_speed', 'onnx_speed'} <= set(COMMANDS)


@pytest.mark.parametrize('name', MODULES)
def test_benchmark_module_imports_without_torchvision(name):
    importlib.import_module(f'benchmarks.{name}')


@pytest.mark.parametrize('name', COMMANDS)
def test_benchmark_command_answers_help(name):
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS='ignore')
    process = subprocess.run([sys.executable, '-m', f'benchmarks.{name}', '--help'], cwd=REPO, env=env,
                             text=True, capture_output=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    assert process.stdout.startswith('usage: ') and '--data-root' in process.stdout
