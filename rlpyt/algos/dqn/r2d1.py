"""R2D1: recurrent DQN from replayed sequences (R2D2 of Kapturowski et al. 2019, one learner).

Each replayed sequence starts from the RNN state stored when it was collected;
the first ``warmup_T`` steps only run the network forward to refresh that state
(burn-in), the next ``batch_T`` steps are trained on n-step double-Q targets
under the invertible value rescaling h (paper eq. 2)::

    y = h(return_ + bootstrap_discount * h^-1(Q_target(s_{t+m}, argmax_a Q(s_{t+m}, a))))

Sequence priorities mix the max and the mean absolute TD error (eta).
"""

import numpy as np
import torch

from rlpyt.algos.dqn.dqn import DQN, OptInfo
from rlpyt.algos.utils import inv_value_rescale, value_rescale
from rlpyt.replays.collections import SamplesToBufferRnn, SamplesToBufferRnnFrame
from rlpyt.replays.sequence.frame import (
    PrioritizedSequenceReplayFrameBuffer,
    UniformSequenceReplayFrameBuffer,
)
from rlpyt.replays.sequence.prioritized import PrioritizedSequenceReplayBuffer
from rlpyt.replays.sequence.uniform import UniformSequenceReplayBuffer
from rlpyt.utils.buffer import buffer_to
from rlpyt.utils.tensor import select_at_indexes, valid_mean
from rlpyt.utils.validation import require_in_range, require_int_at_least, require_non_negative

__all__ = ["R2D1"]


class R2D1(DQN):
    """Recurrent replay DQN. Arguments as :class:`DQN` (original R2D1 defaults), plus:

    Args:
        batch_T: trained steps per sequence; ``batch_B``: sequences per batch
            (``batch_size = batch_T * batch_B`` transitions).
        warmup_T: burn-in steps before the trained ones.
        store_rnn_state_interval: steps between stored RNN states (sequence starts);
            0 means ``batch_T``.
        pri_eta: priority = ``eta * max |delta| + (1 - eta) * mean |delta|`` over the sequence.
        input_priorities: new sequences enter the replay with priorities computed
            from the sampler's own Q values (instead of the running max).
        input_priority_shift: steps the sampler's Q values are shifted to form
            targets (default: ``n_step_return``).
        value_scale_eps: epsilon of ``h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps * x``.
    """

    def __init__(
        self,
        *,
        discount: float = 0.997,
        batch_T: int = 80,
        batch_B: int = 64,
        warmup_T: int = 40,
        store_rnn_state_interval: int = 40,
        min_steps_learn: int = int(1e5),
        delta_clip: float | None = None,
        replay_size: int = int(1e6),
        replay_ratio: float = 1,
        target_update_interval: int = 2500,
        n_step_return: int = 5,
        learning_rate: float = 1e-4,
        clip_grad_norm: float = 80.0,
        double_dqn: bool = True,
        prioritized_replay: bool = True,
        pri_alpha: float = 0.6,
        pri_beta_init: float = 0.9,
        pri_beta_final: float = 0.9,
        pri_eta: float = 0.9,
        input_priorities: bool = True,
        input_priority_shift: int | None = None,
        value_scale_eps: float = 1e-3,
        **kwargs,
    ):
        batch_T = require_int_at_least("batch_T", batch_T, 1)
        batch_B = require_int_at_least("batch_B", batch_B, 1)
        require_non_negative("warmup_T", warmup_T)
        require_non_negative("store_rnn_state_interval", store_rnn_state_interval)
        require_in_range("pri_eta", pri_eta, 0.0, 1.0)
        require_non_negative("value_scale_eps", value_scale_eps)
        super().__init__(
            discount=discount,
            batch_size=batch_T * batch_B,
            min_steps_learn=min_steps_learn,
            delta_clip=delta_clip,
            replay_size=replay_size,
            replay_ratio=replay_ratio,
            target_update_interval=target_update_interval,
            n_step_return=n_step_return,
            learning_rate=learning_rate,
            clip_grad_norm=clip_grad_norm,
            double_dqn=double_dqn,
            prioritized_replay=prioritized_replay,
            pri_alpha=pri_alpha,
            pri_beta_init=pri_beta_init,
            pri_beta_final=pri_beta_final,
            **kwargs,
        )
        self.batch_T = batch_T
        self.batch_B = batch_B
        self.warmup_T = int(warmup_T)
        self.store_rnn_state_interval = int(store_rnn_state_interval) or batch_T
        self.pri_eta = pri_eta
        self.input_priorities = input_priorities and prioritized_replay
        self.input_priority_shift = (
            n_step_return if input_priority_shift is None else input_priority_shift
        )
        self.value_scale_eps = value_scale_eps

    # -- replay ---------------------------------------------------------------------

    def examples_to_buffer(self, examples):
        base = super().examples_to_buffer(examples)
        prev_rnn_state = examples["agent_info"].prev_rnn_state
        if self._frame_replay(np.asarray(examples["observation"])):
            return SamplesToBufferRnnFrame(*base, prev_rnn_state=prev_rnn_state)
        return SamplesToBufferRnn(*base, prev_rnn_state=prev_rnn_state)

    def samples_to_buffer(self, samples):
        base = super().samples_to_buffer(samples)
        cls = (
            SamplesToBufferRnnFrame
            if isinstance(self.replay_buffer.example, SamplesToBufferRnnFrame)
            else SamplesToBufferRnn
        )
        return cls(*base, prev_rnn_state=samples.agent.agent_info.prev_rnn_state)

    def initialize_replay_buffer(self, examples, batch_spec):
        if batch_spec.T % self.store_rnn_state_interval:
            raise ValueError(
                f"sampler batch_T {batch_spec.T} is not a multiple of store_rnn_state_interval "
                f"{self.store_rnn_state_interval}: stored RNN states must line up with batches"
            )
        super().initialize_replay_buffer(examples, batch_spec)

    def default_replay_class(self, example) -> type:
        frames = isinstance(example, SamplesToBufferRnnFrame)
        if self.prioritized_replay:
            return (
                PrioritizedSequenceReplayFrameBuffer if frames else PrioritizedSequenceReplayBuffer
            )
        return UniformSequenceReplayFrameBuffer if frames else UniformSequenceReplayBuffer

    def replay_buffer_kwargs(self, example, batch_spec) -> dict:
        kwargs = super().replay_buffer_kwargs(example, batch_spec)  # prioritization
        kwargs.update(
            rnn_state_interval=self.store_rnn_state_interval,
            batch_T=self.batch_T,
            warmup_T=self.warmup_T,
        )
        if self.prioritized_replay:
            kwargs["input_priorities"] = self.input_priorities
        return kwargs

    def append_samples(self, samples):
        if self.input_priorities:
            super().append_samples(samples, priorities=self.compute_input_priorities(samples))
        else:
            super().append_samples(samples)

    def compute_input_priorities(self, samples) -> torch.Tensor:
        """Priorities ``[T // interval, B]`` of the new sequence starts, from the sampler's Q.

        As the original: the TD errors of ``Q(s_t, a_t)`` against ``r_t + ... +
        gamma^k max_a Q(s_{t+k}, a)`` using the Q values recorded while sampling
        (k = input_priority_shift; steps whose window leaves the batch are
        dropped), mixed per interval with eta.
        """
        q = samples.agent.agent_info.q.float()  # [T, B, A]
        reward, done = samples.env.reward.float(), samples.env.done.float()
        T, B = reward.shape
        k = min(self.input_priority_shift, T - 1)
        q_a = select_at_indexes(samples.agent.action, q)
        if k < 1:
            delta = torch.zeros(T, B)
        else:
            ret = torch.zeros(T - k, B)
            not_done = torch.ones(T - k, B)
            for i in range(k):
                ret += not_done * self.discount**i * reward[i : T - k + i]
                not_done = not_done * (1 - done[i : T - k + i])
            y = value_rescale(
                ret
                + not_done
                * self.discount**k
                * inv_value_rescale(q[k:].max(-1).values, self.value_scale_eps),
                self.value_scale_eps,
            )
            delta = torch.cat([(y - q_a[: T - k]).abs(), torch.zeros(k, B)])
        n = T // self.store_rnn_state_interval
        chunks = delta[: n * self.store_rnn_state_interval].reshape(n, -1, B)
        return self.pri_eta * chunks.max(1).values + (1 - self.pri_eta) * chunks.mean(1)

    # -- one iteration -----------------------------------------------------------------

    def optimize_agent(self, itr: int, samples=None, sampler_itr=None):
        if samples is not None:
            self.append_samples(samples)
        opt_info = self.empty_opt_info()
        if not self.ready_to_learn(itr):
            return opt_info
        if self.prioritized_replay:
            self.replay_buffer.set_beta(self.beta_at(itr))
        for _ in range(self.n_updates()):
            batch = self.replay_buffer.sample_batch(self.batch_B)
            # A batch without time-limit cuts returns the same tensor for both.
            has_cut = batch.target_observation is not batch.all_observation
            batch = buffer_to(batch, device=self.agent.device)
            loss, priorities = self.loss(batch, has_cut=has_cut)
            self._gradient_step(itr, loss, priorities, opt_info)
        return opt_info

    @staticmethod
    def empty_opt_info():
        return OptInfo(*([] for _ in OptInfo._fields))

    # -- the loss ------------------------------------------------------------------------

    def loss(self, samples, has_cut: bool = True):
        """TD loss over the trained steps; returns ``(loss, sequence priorities [batch_B])``.

        ``samples`` is a ``SamplesFromReplaySeq`` on the agent's device.
        """
        w, bT = self.warmup_T, self.batch_T
        obs, prev_a, prev_r = (
            samples.all_observation,
            samples.all_prev_action,
            samples.all_prev_reward,
        )
        init_state = samples.init_rnn_state
        if w > 0:  # burn-in: refresh the stored state, no gradient
            with torch.no_grad():
                _, init_state = self.agent(obs[:w], prev_a[:w], prev_r[:w], init_state)
        q_all, _ = self.agent(obs[w:], prev_a[w:], prev_r[w:], init_state)  # [bT + n, B, A]
        q = select_at_indexes(samples.action, q_all[:bT])
        with torch.no_grad():
            target_q, _ = self.agent.target(
                samples.target_observation, prev_a, prev_r, samples.init_rnn_state
            )  # [L, B, A], from the stored state: the target sees the whole sequence
            index = samples.bootstrap_index  # [bT, B] positions in 0..L-1
            q_next_target = _gather_time(target_q, index)  # [bT, B, A]
            if self.double_dqn:
                if has_cut:  # online choices at final observations too
                    online, _ = self.agent(
                        samples.target_observation[w:], prev_a[w:], prev_r[w:], init_state
                    )
                else:
                    online = q_all.detach()
                q_next_online = _gather_time(online, (index - w).clamp(min=0))
                next_a = torch.argmax(q_next_online, dim=-1)
            else:
                next_a = torch.argmax(q_next_target, dim=-1)
            v_next = select_at_indexes(next_a, q_next_target)
            eps = self.value_scale_eps
            y = value_rescale(
                samples.return_ + samples.bootstrap_discount * inv_value_rescale(v_next, eps), eps
            )
        delta = y - q
        losses = 0.5 * delta**2
        abs_delta = abs(delta)
        if self.delta_clip is not None:
            b = self.delta_clip * (abs_delta - self.delta_clip / 2)
            losses = torch.where(abs_delta <= self.delta_clip, losses, b)
        valid = samples.valid.to(losses.dtype)
        if self.prioritized_replay:
            losses = losses * samples.is_weights.unsqueeze(0)
        loss = valid_mean(losses, valid)
        with torch.no_grad():
            td = abs_delta * valid
            if self.delta_clip is not None:
                td = td.clamp(max=self.delta_clip)
            mean_td = td.sum(0) / valid.sum(0).clamp(min=1)
            priorities = self.pri_eta * td.max(0).values + (1 - self.pri_eta) * mean_td
        return loss, priorities


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``out[t, b] = x[index[t, b], b]`` for ``x`` ``[L, B, ...]`` and ``index`` ``[T, B]``."""
    idx = index.long().clamp(0, x.shape[0] - 1)
    idx = idx.reshape(idx.shape + (1,) * (x.dim() - 2)).expand(idx.shape + x.shape[2:])
    return x.gather(0, idx)
