"""A parallel-sampler worker's sampling state, for snapshots and exact resume.

Between two batches everything a worker's next batch depends on is: its envs
(pickled, one by one), the agent inputs it continues from (the CPU collectors
keep them in the worker, the GPU collectors in the shared step buffer), the
open trajectories, the wait-reset flags of its collector, the global random
generators of the worker process (the CPU agent draws its actions from torch's)
and the sampling state of its copy of the agent (exploration generators,
recurrent state). :func:`worker_state` captures them when the master sends
``"get_state"``; :func:`load_worker_state` puts them back at ``"load_state"``.

An env that cannot be pickled is not saved: on resume it keeps the fresh start
it got at ``initialize()`` (its agent inputs and open trajectory too), so the
run goes on, but that env not exactly as the uninterrupted run's did.
"""

import copy
import pickle

from rlpyt.utils.buffer import buffer_method
from rlpyt.utils.seed import get_rng_state, set_rng_state

__all__ = ["worker_state", "load_worker_state"]


def _guards(collector) -> list:
    """The guards holding a collector's envs: one per env, or the one of its env batch."""
    return [collector.envs] if collector.batched else list(collector.envs)


def _pickle_envs(collector) -> tuple[list, list]:
    """``(states, errors)``: each env (or the env batch) pickled (or ``None``) and why it
    could not be."""
    states, errors = [], []
    for guarded in _guards(collector):
        try:
            states.append(pickle.dumps(guarded.env))
            errors.append(None)
        except Exception as err:  # noqa: BLE001 - any pickling failure means "not resumable"
            states.append(None)
            errors.append(f"{type(err).__name__}: {err}")
    return states, errors


def worker_state(collector, eval_collector, agent_inputs, traj_infos, agent) -> dict:
    """Everything this worker's next batch depends on (see the module docstring)."""
    envs, env_errors = _pickle_envs(collector)
    step = collector.step_buffer_np
    state = {
        "env_ranks": list(collector.env_ranks),
        "envs": envs,
        "env_errors": env_errors,
        "env_steps": [guarded.n_steps for guarded in _guards(collector)],
        # The GPU collectors' agent inputs are the shared step buffer's; the CPU ones' local.
        "agent_inputs": None if step is not None else buffer_method(agent_inputs, "copy"),
        "step_buffer": None if step is None else buffer_method(step, "copy"),
        "traj_infos": copy.deepcopy(traj_infos),
        "collector": collector.state_dict(),
        "rng": get_rng_state(),
        "agent_sampling": None if agent is None else agent.sampling_state_dict(),
        "eval_envs": None,
    }
    if eval_collector is not None:
        state["eval_envs"], _ = _pickle_envs(eval_collector)
    return state


def _restore_batch(state, collector, agent_inputs, traj_infos, restarted) -> None:
    if state["envs"][0] is None:
        restarted.extend(collector.env_ranks)
        return
    collector.envs.env.close()
    collector.envs.env = pickle.loads(state["envs"][0])
    collector.envs.n_steps = state["env_steps"][0]
    agent_inputs[:] = state["agent_inputs"]
    traj_infos[:] = state["traj_infos"]
    collector.load_state_dict(state["collector"])


def load_worker_state(state: dict, collector, eval_collector, agent_inputs, traj_infos, agent):
    """Restore :func:`worker_state`; returns ``(agent_inputs, traj_infos, restarted)``.

    ``restarted``: the global ranks of the envs that had no saved state and keep
    the fresh start they got at ``initialize()``.
    """
    restarted = []
    step = collector.step_buffer_np
    if collector.batched:  # one saved batch: restore it whole, or restart it whole
        _restore_batch(state, collector, agent_inputs, traj_infos, restarted)
    else:
        for b, (guarded, saved) in enumerate(zip(collector.envs, state["envs"])):
            if saved is None:
                restarted.append(collector.env_ranks[b])
                continue
            try:
                guarded.env.close()
            except Exception:  # noqa: BLE001 - the fresh env is thrown away: best effort
                pass
            guarded.env = pickle.loads(saved)
            guarded.n_steps = state["env_steps"][b]
            if step is not None:
                step[b] = state["step_buffer"][b]
            else:
                agent_inputs[b] = state["agent_inputs"][b]
            traj_infos[b] = state["traj_infos"][b]
            collector.load_state_dict(state["collector"], envs=[b])
    if eval_collector is not None and state["eval_envs"] is not None:
        for guarded, saved in zip(_guards(eval_collector), state["eval_envs"]):
            if saved is not None:
                guarded.env.close()
                guarded.env = pickle.loads(saved)
    set_rng_state(state["rng"])
    if agent is not None and state["agent_sampling"] is not None:
        agent.load_sampling_state_dict(state["agent_sampling"])
    return agent_inputs, traj_infos, restarted
