"""The agent interface.

An agent wraps a torch ``model`` (and usually a distribution). The sampler
calls :meth:`BaseAgent.step` under ``torch.no_grad`` with numpy-backed tensors
of leading dims ``[B]``; the algorithm calls the agent (``agent(*inputs)``)
with ``[T, B]`` tensors to compute its loss. Inputs are always
``(observation, prev_action, prev_reward)`` so any agent may be recurrent.
"""

import torch

from rlpyt.models.compile import compile_backend, compile_network, is_compiled
from rlpyt.utils.collections import namedarraytuple
from rlpyt.utils.logging import logger

__all__ = ["BaseAgent", "AgentInputs", "AgentStep"]

AgentInputs = namedarraytuple("AgentInputs", ["observation", "prev_action", "prev_reward"])
AgentStep = namedarraytuple("AgentStep", ["action", "agent_info"])


class BaseAgent:
    """Holds the model; subclasses define ``__call__`` (training) and ``step``.

    Two-phase setup: ``__init__`` stores settings; :meth:`initialize` builds the
    model once the env spaces are known.

    Args:
        ModelCls: the torch module class.
        model_kwargs: keyword arguments for ``ModelCls`` (added to those the
            agent derives from the env spaces, see ``make_env_to_model_kwargs``).
        initial_model_state_dict: weights to load after building the model.
        compile: True runs every network of :meth:`networks` through ``torch.compile``
            (inductor), for acting and for training (:mod:`rlpyt.models.compile`: static
            shapes, each input signature compiled once at its first call -- the logged
            warm-up --, CUDA graphs on CUDA); a string names another ``torch.compile``
            backend (``"aot_eager"``: traced, no code generated, e.g. without a C++
            compiler). Weights and checkpoints are those of the eager networks.
    """

    recurrent = False  # True for agents that carry an RNN state between steps
    alternating = False  # True for the alternating sampler's two-state agents
    # True for agents whose update_obs_rms the algorithm must feed each training batch.
    updates_obs_rms = False

    def __init__(
        self, ModelCls=None, model_kwargs=None, initial_model_state_dict=None, compile=False
    ):
        self.ModelCls = ModelCls
        self.model_kwargs = dict(model_kwargs or {})
        self.initial_model_state_dict = initial_model_state_dict
        self.model = None
        self.shared_model = None
        self.distribution = None
        self.device = torch.device("cpu")
        self.env_model_kwargs = {}
        self.env_spaces = None
        self._mode = None
        self.compile = compile
        self.compile_backend = compile_backend(compile)  # None: eager
        # (network, input signature, seconds) of each compile warm-up in this process.
        self.compile_warmups = []

    # -- set-up ---------------------------------------------------------------

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None):
        """Build the model for these spaces.

        With ``share_memory`` the parameters are moved to shared memory, so
        worker processes see the optimizer's updates (CPU sampling).
        ``global_B`` and ``env_ranks`` identify this sampler's envs among all
        (used e.g. for per-env exploration rates).
        """
        self.env_spaces = env_spaces
        self.env_model_kwargs = self.make_env_to_model_kwargs(env_spaces)
        self.model = self.ModelCls(**self.env_model_kwargs, **self.model_kwargs)
        if self.initial_model_state_dict is not None:
            self.model.load_state_dict(self.initial_model_state_dict)
        if share_memory:
            self.model.share_memory()
            self.shared_model = self.model
        self.global_B = global_B
        self.env_ranks = env_ranks

    def make_env_to_model_kwargs(self, env_spaces) -> dict:
        """Model constructor kwargs that follow from the env spaces."""
        return {}

    def to_device(self, cuda_idx: int | None = None):
        """Move the model to ``cuda:cuda_idx`` (CPU when None or no CUDA)."""
        if cuda_idx is None:
            return
        if not torch.cuda.is_available():
            raise RuntimeError(f"cuda_idx={cuda_idx} requested but CUDA is not available")
        if self.shared_model is not None:
            # The shared CPU copy stays for the workers; the learner moves its own.
            self.model = self.ModelCls(**self.env_model_kwargs, **self.model_kwargs)
            self.model.load_state_dict(self.shared_model.state_dict())
        self.device = torch.device("cuda", index=cuda_idx)
        self.model.to(self.device)

    # -- acting and training ----------------------------------------------------

    def __call__(self, observation, prev_action, prev_reward):
        """Training forward pass (with gradients); agent-specific outputs."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        """Choose actions for ``[B]`` inputs; returns ``AgentStep(action, agent_info)``."""
        raise NotImplementedError

    def collector_initialize(self, global_B: int = 1, env_ranks=None) -> None:
        """Called by each collector with the global ranks of the envs it steps (agents with
        per-env exploration, e.g. epsilon-greedy ones, set it up here); a no-op by default."""

    def update_obs_rms(self, observation) -> None:
        """Fold training observations into observation-normalisation statistics (agents with
        ``updates_obs_rms``); a no-op by default."""

    def reset(self):
        """Forget per-episode state of all envs (recurrent agents)."""

    def reset_one(self, idx):
        """Forget per-episode state of env ``idx`` (recurrent agents)."""

    # -- compiling ------------------------------------------------------------

    def networks(self) -> dict:
        """The agent's torch networks by name (those ``compile`` compiles); subclasses add
        theirs (target networks, critics)."""
        return {"model": self.model}

    def compile_networks(self) -> None:
        """Compile each network of :meth:`networks` not yet compiled (with ``compile``).

        The modes call it, so networks built or replaced after ``initialize`` (``to_device``
        rebuilds the learner's model) and those of a sampler worker are compiled before use.
        """
        if self.compile_backend is None:
            return
        for name, network in self.networks().items():
            if network is not None and not is_compiled(network):
                compile_network(
                    network,
                    name=name,
                    device=self.device,
                    on_warmup=self._log_warmup,
                    backend=self.compile_backend,
                )

    def _log_warmup(self, name: str, description: str, seconds: float) -> None:
        self.compile_warmups.append((name, description, seconds))
        logger.log(f"compile warm-up: {name} ({description}) in {seconds:.2f} s")

    @property
    def compile_seconds(self) -> float:
        """Seconds spent in compile warm-ups so far (this process)."""
        return sum(seconds for _name, _description, seconds in self.compile_warmups)

    # -- modes ----------------------------------------------------------------

    def train_mode(self, itr: int):
        """Before the algorithm optimizes: model in train mode."""
        self.compile_networks()
        self.model.train()
        self._mode = "train"

    def sample_mode(self, itr: int):
        """Before the sampler collects training data."""
        self.compile_networks()
        self.model.eval()
        self._mode = "sample"

    def eval_mode(self, itr: int):
        """Before offline evaluation (e.g. greedy or deterministic actions)."""
        self.compile_networks()
        self.model.eval()
        self._mode = "eval"

    # -- parameters -----------------------------------------------------------

    def parameters(self):
        return self.model.parameters()

    def state_dict(self) -> dict:
        """Everything needed to restore the agent (model weights; subclasses add)."""
        return self.model.state_dict()

    def load_state_dict(self, state_dict: dict):
        self.model.load_state_dict(state_dict)

    def sampling_state_dict(self) -> dict:
        """State of sampling only (exploration generators, recurrent state) for snapshots."""
        return {}

    def load_sampling_state_dict(self, state: dict) -> None:
        """Restore :meth:`sampling_state_dict`."""

    def sync_shared_memory(self):
        """Copy the learner's weights into the shared CPU model (if on another device)."""
        if self.shared_model is not None and self.shared_model is not self.model:
            self.shared_model.load_state_dict(self.model.state_dict())
