"""Categorical policy/value models for vector observations (CartPole-like envs)."""

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from rlpyt.models.mlp import MlpModel
from rlpyt.models.running_mean_std import RunningMeanStdModel
from rlpyt.models.utils import RnnState, orthogonal_init_, run_lstm
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims

__all__ = ["CategoricalPgMlpModel", "CategoricalPgLstmModel", "RnnState"]


def _obs_rms(normalize_observation, observation_shape, norm_obs_clip, norm_obs_var_clip):
    if not normalize_observation:
        return None
    return RunningMeanStdModel(observation_shape, clip=norm_obs_clip, min_var=norm_obs_var_clip)


_Linear, _Tanh = torch.nn.Linear, torch.nn.Tanh
_linear, _tanh = F.linear, torch.tanh


def _run_mlp(mlp: MlpModel, x: torch.Tensor) -> torch.Tensor:
    """``mlp(x)`` without ``nn.Module.__call__`` per layer.

    At sampling batch sizes (``[B, 4]`` for CartPole) a layer's math takes
    3-6 us, and ``__call__`` plus the parameter look-ups through
    ``Module.__getattr__`` cost about as much again: for the two 3-layer heads
    that was half of each sampling step. Plain ``Linear`` and ``Tanh`` layers
    run as ``F.linear`` / ``torch.tanh`` on their registered parameters, other
    layers (e.g. parametrized ones) through their ``forward``, and modules
    with hooks through ``__call__``, so their hooks still run.
    """
    seq = mlp._modules["model"]
    if mlp._forward_hooks or mlp._forward_pre_hooks or seq._forward_hooks or seq._forward_pre_hooks:
        return mlp(x)
    for layer in seq._modules.values():
        kind = type(layer)
        if layer._forward_hooks or layer._forward_pre_hooks:
            x = layer(x)
        elif kind is _Linear:
            params = layer._parameters
            x = _linear(x, params["weight"], params["bias"])
        elif kind is _Tanh:
            x = _tanh(x)
        else:
            x = layer.forward(x)
    return x


def _tanh_(x: np.ndarray) -> np.ndarray:
    return np.tanh(x, out=x)


def _relu_(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


_NUMPY_ACTIVATIONS = {_Tanh: _tanh_, torch.nn.ReLU: _relu_}
_module_hooks = torch.nn.modules.module


def _has_hooks(module: torch.nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks)


def _modules_key(model: torch.nn.Module) -> tuple:
    """The modules the acting plan depends on: each head, its Sequential and its layers
    (None for a head that is not an MLP)."""
    key = []
    for head in (model._modules["pi"], model._modules["value"]):
        seq = head._modules.get("model")
        if type(seq) is not torch.nn.Sequential:
            return None  # a head other than an MlpModel: forward runs it
        key += [head, seq, *seq._modules.values()]
    return tuple(key)


def _hook_dicts(modules: tuple) -> tuple:
    """The forward (pre-)hook dicts of ``modules``: ``register_forward_hook`` adds to them
    in place, so ``any(dicts)`` notices a new hook on any of them."""
    return tuple(d for m in modules for d in (m._forward_hooks, m._forward_pre_hooks))


def _numpy_plan(layers: tuple):
    """``(params, arrays)`` for plain Linear/Tanh/ReLU ``layers`` (float32, CPU), or None.

    ``params``: ``(registered, name, parameter, data_ptr)``, to notice a replaced parameter
    or storage; ``arrays``: ``[(weight.T, bias, activation)]``, numpy views of the
    parameters' memory, the activation an in-place numpy function or None.
    """
    params, arrays = [], []
    for layer in layers:
        kind = type(layer)
        if kind is _Linear:
            registered = layer._parameters
            weight, bias = registered["weight"], registered["bias"]
            if bias is None or weight.dtype != torch.float32 or weight.device.type != "cpu":
                return None
            params += [
                (registered, "weight", weight, weight.data_ptr()),
                (registered, "bias", bias, bias.data_ptr()),
            ]
            arrays.append([weight.detach().numpy().T, bias.detach().numpy(), None])
        elif kind in _NUMPY_ACTIVATIONS and arrays and arrays[-1][2] is None:
            arrays[-1][2] = _NUMPY_ACTIVATIONS[kind]
        else:
            return None
    return params, arrays


def _params_current(params) -> bool:
    """The plan's parameters are still registered and still in the same storage."""
    for registered, name, param, ptr in params:
        if registered[name] is not param or param.data_ptr() != ptr:
            return False
    return True


def _numpy_mlp(arrays, x: np.ndarray) -> np.ndarray:
    for weight_t, bias, activation in arrays:
        x = np.dot(x, weight_t)
        x += bias
        if activation is not None:
            x = activation(x)
    return x


class _ActingPlan(NamedTuple):
    """What :meth:`CategoricalPgMlpModel.acting_forward` runs, for the modules ``key``.

    ``pi`` and ``value`` are the heads' numpy arrays (see :func:`_numpy_plan`), both None
    when a layer is one numpy cannot run; ``hook_dicts`` and ``params`` are what is checked
    on every call."""

    key: tuple
    hook_dicts: tuple
    pi: list | None
    value: list | None
    params: list


def _acting_plan(model: torch.nn.Module, key: tuple) -> _ActingPlan:
    heads = [model._modules[name]._modules["model"] for name in ("pi", "value")]
    pi_plan, value_plan = (_numpy_plan(tuple(seq._modules.values())) for seq in heads)
    if pi_plan is None or value_plan is None:
        return _ActingPlan(key, (), None, None, [])
    return _ActingPlan(key, _hook_dicts(key), pi_plan[1], value_plan[1], pi_plan[0] + value_plan[0])


def _head_init_(mlp: MlpModel, gain: float) -> MlpModel:
    """Orthogonal init: sqrt(2) on hidden layers, ``gain`` on the output layer."""
    orthogonal_init_(mlp, gain=math.sqrt(2))
    orthogonal_init_(mlp.model[-1], gain=gain)
    return mlp


class CategoricalPgMlpModel(torch.nn.Module):
    """Separate policy and value MLPs on the (flattened) observation.

    ``forward(observation, prev_action, prev_reward)`` with observation
    ``[..., *observation_shape]`` (leading dims ``[]``, ``[B]`` or ``[T, B]``;
    prev_action and prev_reward are ignored) returns ``(pi [..., A], value [...])``.

    Initialisation as in the PPO/A2C reference implementations: orthogonal,
    gain sqrt(2) on hidden layers, 0.01 on the policy output (so the first
    policy is near uniform) and 1 on the value output. Observation
    normalisation as in :class:`~rlpyt.models.pg.mujoco_ff_model.MujocoFfModel`.

    :meth:`acting_forward` is the same function in numpy for the sampling step.
    """

    def __init__(
        self,
        observation_shape,
        action_size: int,
        hidden_sizes=(64, 64),
        hidden_nonlinearity=torch.nn.Tanh,
        normalize_observation: bool = False,
        norm_obs_clip: float = 10,
        norm_obs_var_clip: float = 1e-6,
    ):
        super().__init__()
        self._obs_ndim = len(observation_shape)
        input_size = int(np.prod(observation_shape))
        self.pi = _head_init_(
            MlpModel(
                input_size, hidden_sizes, output_size=action_size, nonlinearity=hidden_nonlinearity
            ),
            gain=0.01,
        )
        self.value = _head_init_(
            MlpModel(input_size, hidden_sizes, output_size=1, nonlinearity=hidden_nonlinearity),
            gain=1.0,
        )
        self.normalize_observation = normalize_observation
        self.obs_rms = _obs_rms(
            normalize_observation, observation_shape, norm_obs_clip, norm_obs_var_clip
        )
        self._acting_plans = None  # an _ActingPlan, see acting_forward

    def acting_forward(self, observation: torch.Tensor):
        """``(pi [B, A], value [B])`` of ``[B, obs]`` CPU observations computed in numpy, or
        None where that does not apply: the caller then uses ``forward``.

        The sampling step is the collection's hot path, and at B = 8 each of ``forward``'s
        13 torch operators (plus ``Module.__call__``) costs 4-8 us of dispatch for well under
        1 us of math; a numpy call costs a fraction of that. It applies to plain
        Linear/Tanh/ReLU heads without hooks (global ones included), no observation
        normalisation, no ``torch.compile``, gradients off and float32 CPU parameters. The
        arrays are views of the parameters' own memory, so an optimizer step or
        ``load_state_dict`` (both write in place; in shared memory, from another process too)
        is seen at once, and a replaced layer, tensor or storage (``share_memory_()``) or a
        new hook is noticed on the next call. The values equal ``forward``'s to float32
        rounding (the matrix products take numpy's BLAS kernels).
        """
        if (
            torch.is_grad_enabled()
            or self.obs_rms is not None
            or observation.dim() != 2
            or self._obs_ndim != 1
            or observation.device.type != "cpu"
            or self._compiled_call_impl is not None
            or _has_hooks(self)
            or _module_hooks._global_forward_hooks
            or _module_hooks._global_forward_pre_hooks
        ):
            return None
        # A plan numpy cannot run is kept until the modules change: no re-check per call.
        key = _modules_key(self)
        if key is None:
            return None
        plan = self._acting_plans
        if plan is None or plan.key != key or not _params_current(plan.params):
            plan = self._acting_plans = _acting_plan(self, key)
        if plan.pi is None or any(plan.hook_dicts):
            return None
        if observation.dtype != torch.float32:
            observation = observation.to(torch.float32)
        x = observation.detach().numpy()
        logits = _numpy_mlp(plan.pi, x)
        logits -= logits.max(axis=-1, keepdims=True)
        pi = np.exp(logits, out=logits)
        pi /= pi.sum(axis=-1, keepdims=True)
        value = np.ascontiguousarray(_numpy_mlp(plan.value, x)[:, 0])
        return torch.from_numpy(pi), torch.from_numpy(value)

    def __getstate__(self):
        # The views point into this process's memory: a copy or an unpickled model
        # takes its own on its first acting call.
        return dict(self.__dict__, _acting_plans=None)

    def forward(self, observation, prev_action=None, prev_reward=None):
        lead_dim, T, B, _ = infer_leading_dims(observation, self._obs_ndim)
        if observation.dtype != torch.float32:
            observation = observation.to(torch.float32)
        if self.obs_rms is not None:
            observation = self.obs_rms(observation)
        # Sampling ([B] inputs of vectors) is the hot path: no reshapes there.
        flat = lead_dim == 1 and self._obs_ndim == 1
        obs_flat = observation if flat else observation.reshape(T * B, -1)
        pi = F.softmax(_run_mlp(self.pi, obs_flat), dim=-1)
        v = _run_mlp(self.value, obs_flat).squeeze(-1)
        if not flat:
            pi, v = restore_leading_dims((pi, v), lead_dim, T, B)
        return pi, v

    def update_obs_rms(self, observation):
        """Fold a batch of observations into the normalisation statistics (no-op without)."""
        if self.obs_rms is not None:
            self.obs_rms.update(observation)


class CategoricalPgLstmModel(torch.nn.Module):
    """MLP features + LSTM, then softmax policy and value heads.

    The LSTM input is ``[MLP features, one-hot prev_action, prev_reward]``.

    ``forward(observation, prev_action, prev_reward, init_rnn_state)``:
    observation ``[..., *observation_shape]``, prev_action one-hot ``[..., A]``,
    prev_reward ``[...]`` (leading dims ``[]``, ``[B]`` or ``[T, B]``),
    ``init_rnn_state`` an :data:`RnnState` of ``[B, N, H]`` tensors or ``None``
    (zeros); returns ``(pi [..., A], value [...], next_rnn_state [B, N, H])``.
    """

    def __init__(
        self,
        observation_shape,
        action_size: int,
        hidden_sizes=(64,),
        lstm_size: int = 64,
        hidden_nonlinearity=torch.nn.Tanh,
        normalize_observation: bool = False,
        norm_obs_clip: float = 10,
        norm_obs_var_clip: float = 1e-6,
    ):
        super().__init__()
        self._obs_ndim = len(observation_shape)
        self.mlp = orthogonal_init_(
            MlpModel(
                int(np.prod(observation_shape)),
                hidden_sizes,
                output_size=None,
                nonlinearity=hidden_nonlinearity,
            ),
            gain=math.sqrt(2),
        )
        self.lstm = torch.nn.LSTM(self.mlp.output_size + action_size + 1, lstm_size)
        self.pi = orthogonal_init_(torch.nn.Linear(lstm_size, action_size), gain=0.01)
        self.value = orthogonal_init_(torch.nn.Linear(lstm_size, 1), gain=1.0)
        self.normalize_observation = normalize_observation
        self.obs_rms = _obs_rms(
            normalize_observation, observation_shape, norm_obs_clip, norm_obs_var_clip
        )

    def forward(self, observation, prev_action, prev_reward, init_rnn_state=None):
        lead_dim, T, B, _ = infer_leading_dims(observation, self._obs_ndim)
        observation = observation.to(torch.float32)
        if self.obs_rms is not None:
            observation = self.obs_rms(observation)
        mlp_out = self.mlp(observation.reshape(T * B, -1))
        lstm_input = torch.cat(
            [
                mlp_out.view(T, B, -1),
                prev_action.reshape(T, B, -1).to(mlp_out.dtype),
                prev_reward.reshape(T, B, 1).to(mlp_out.dtype),
            ],
            dim=2,
        )
        lstm_out, next_rnn_state = run_lstm(self.lstm, lstm_input, init_rnn_state)
        lstm_flat = lstm_out.reshape(T * B, -1)
        pi = F.softmax(self.pi(lstm_flat), dim=-1)
        v = self.value(lstm_flat).squeeze(-1)
        pi, v = restore_leading_dims((pi, v), lead_dim, T, B)
        return pi, v, next_rnn_state

    def update_obs_rms(self, observation):
        """Fold a batch of observations into the normalisation statistics (no-op without)."""
        if self.obs_rms is not None:
            self.obs_rms.update(observation)
