"""``train --algo pearl``: the meta sampler of ``sampler.kind`` (serial or cpu workers); other
kinds refused naming the choices. Nothing is started: the experiment is only built."""

import pytest

from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import apply_overrides, default_config
from rlpyt.samplers.meta import MetaCpuSampler, MetaSerialSampler


def pearl_config(*overrides):
    return apply_overrides(default_config("pearl", "point-robot"), overrides)


def test_cpu_kind_spreads_tasks_over_the_workers():
    runner = build_experiment(pearl_config("sampler.kind=cpu", "sampler.workers=1"))
    assert type(runner.sampler) is MetaCpuSampler
    assert runner.sampler.n_workers == 1 and runner.sampler.workers == []  # not started
    assert len(runner.affinity["workers_cpus"]) == 1


def test_serial_kind_is_the_default():
    runner = build_experiment(pearl_config())
    assert type(runner.sampler) is MetaSerialSampler
    assert runner.affinity["torch_threads"] == 1


@pytest.mark.parametrize("kind", ["gpu", "alternating", "ray"])
def test_other_sampler_kinds_refused_naming_the_meta_samplers(kind):
    with pytest.raises(ValueError, match=rf"sampler.kind='{kind}': PEARL collects with the meta "
                       r"samplers, one of \['serial', 'cpu'\]"):  # fmt: skip
        build_experiment(pearl_config(f"sampler.kind={kind}"))
