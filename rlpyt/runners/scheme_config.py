"""The Ray scheme's configuration: :class:`SchemeConfig` (see :mod:`rlpyt.runners.scheme`)."""

import multiprocessing as mp
from dataclasses import dataclass, field

__all__ = ["SchemeConfig"]

_MODES = ("sync", "async")
_STAGES = ("central", "decentralised")
_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD", None)


@dataclass(frozen=True)
class SchemeConfig:
    """The scheme's shape and resources (see the module docstring).

    Args:
        collection_workers: N, a multiple of ``gradient_workers``.
        gradient_workers: M; gradient worker ``g`` owns collection workers
            ``g * N/M ... (g + 1) * N/M - 1``.
        update_stage: ``"central"`` or ``"decentralised"``.
        collection: the collection -> gradient link, ``"sync"`` or ``"async"``.
        update: the gradient -> update link, ``"sync"`` or ``"async"``.
        fraction_workers, fraction_samples: straggler pre-emption (sync collection):
            once this fraction of a gradient worker's collection workers delivered,
            the others stop as soon as they hold this fraction of ``T`` steps. 1, 1: off.
        remote: False runs everything in this process (debug mode).
        env_processes: 0 steps a collection worker's envs in its own process; k >= 1 splits
            them over k env processes that step them in parallel while the collection
            worker evaluates the policy once per step for all of them (at most
            ``sampler.batch_B``; the samples are the same as with 0).
        env_start_method: how the env processes start: ``"fork"``, ``"spawn"`` or
            ``"forkserver"`` (the latter two need a picklable env factory).
        collection_num_cpus, gradient_num_cpus, gradient_num_gpus: Ray resources per actor.
        placement_strategy: of the placement group (None: none).
        max_restarts: dead collection workers each gradient worker survives by restart.
        rollout_timeout, startup_timeout: seconds for one rollout / one gradient, and
            for the actors to start.
        collective_timeout: seconds an all-reduce waits for a peer (decentralised).
        gradient_torch_threads: torch threads of each gradient worker.
        keep_freed_memory: each gradient worker sets glibc's malloc to keep freed memory
            for reuse, as the runners do in their own process (:mod:`rlpyt.utils.malloc`).
        nan_check: the collection workers' check of rewards/observations.
        ray_init_kwargs: ``ray.init`` keywords when this runner starts Ray.
    """

    collection_workers: int = 2
    gradient_workers: int = 1
    update_stage: str = "central"
    collection: str = "sync"
    update: str = "sync"
    fraction_workers: float = 1.0
    fraction_samples: float = 1.0
    remote: bool = True
    env_processes: int = 0
    env_start_method: str = "fork"
    collection_num_cpus: float = 1.0
    gradient_num_cpus: float = 1.0
    gradient_num_gpus: float = 0.0
    placement_strategy: str | None = "PACK"
    max_restarts: int = 0
    rollout_timeout: float = 60.0
    startup_timeout: float = 120.0
    collective_timeout: float = 120.0
    gradient_torch_threads: int = 1
    keep_freed_memory: bool = True
    nan_check: str = "raise"
    ray_init_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        n, m = self.collection_workers, self.gradient_workers
        if not (isinstance(m, int) and m >= 1 and isinstance(n, int) and n >= m and n % m == 0):
            raise ValueError(
                f"collection_workers={n} must be a multiple (>= 1x) of gradient_workers={m}: "
                "each gradient worker owns the same number of collection workers"
            )
        for name, value, allowed in (
            ("update_stage", self.update_stage, _STAGES),
            ("collection", self.collection, _MODES),
            ("update", self.update, _MODES),
            ("placement_strategy", self.placement_strategy, _STRATEGIES),
            ("env_start_method", self.env_start_method, tuple(mp.get_all_start_methods())),
        ):
            if value not in allowed:
                raise ValueError(f"scheme {name}={value!r}: choose one of {allowed}")
        k = self.env_processes
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(
                f"scheme env_processes={k!r} must be an integer >= 0 (0: a collection "
                "worker steps its envs itself; k: in k env processes)"
            )
        for name in ("fraction_workers", "fraction_samples"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"scheme {name}={value} must be in (0, 1]")
        if self.preempts and self.collection != "sync":
            raise ValueError(
                "straggler pre-emption (fraction_workers/fraction_samples < 1) applies to "
                "collection='sync' only: set both fractions to 1 for async collection"
            )
        for name in ("collection_num_cpus", "gradient_num_cpus", "gradient_num_gpus"):
            if getattr(self, name) < 0:
                raise ValueError(f"scheme {name}={getattr(self, name)} must be >= 0")
        for name in ("rollout_timeout", "startup_timeout", "collective_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"scheme {name}={getattr(self, name)} must be > 0")
        if self.max_restarts < 0:
            raise ValueError(f"scheme max_restarts={self.max_restarts} must be >= 0")
        if not self.remote and self.update_stage == "decentralised" and m > 1:
            raise ValueError(
                "remote=False runs every worker in one process, where M > 1 decentralised "
                f"gradient workers cannot all-reduce: use gradient_workers=1 (got {m}), "
                "update_stage='central' or remote=True"
            )

    @property
    def preempts(self) -> bool:
        """Whether straggler pre-emption is on."""
        return self.fraction_workers < 1 or self.fraction_samples < 1
