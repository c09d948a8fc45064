"""Running an agent's torch networks through ``torch.compile``, in place, with the warm-up timed.

:func:`compile_network` makes a module's calls go through ``torch.compile``
(``nn.Module.compile``): the module object stays the one the agent built, so
its parameters, buffers, ``state_dict()`` keys (no ``_orig_mod.`` prefix),
optimizers and shared memory are those of the eager module, a checkpoint of a
compiled run loads into an eager agent and back, and a pickled module (sent to
a spawned worker) arrives eager.

Shapes are static (``dynamic=False``): every input signature -- the shapes,
dtypes and devices of the tensor inputs, grad mode and train/eval mode --
compiles a graph of its own the first time it is seen; that first call is the
*warm-up*, timed and reported to ``on_warmup``. An agent meets a handful of
signatures per run (acting on ``[B]``, training on the algorithm's fixed
batch, evaluation), each compiled once; dynamic shapes would cost guards and
slower kernels on every call instead.

Backends: inductor (``torch.compile``'s default; on the CPU it generates C++,
so a C++ compiler must be installed) with ``mode="reduce-overhead"`` on CUDA,
which replays CUDA graphs. A CUDA graph writes its outputs into memory that its
next replay reuses, so on CUDA the outputs are cloned before they are returned
(the agent and the losses may hold them across calls).
"""

import time

import torch

__all__ = [
    "BACKENDS",
    "CompiledForward",
    "compile_backend",
    "compile_network",
    "is_compiled",
    "input_signature",
]


# The torch.compile backends an agent may name: inductor (code generation: C++ on the CPU,
# Triton on CUDA), aot_eager (traced forward and backward, run by eager kernels: for machines
# without a C++ compiler and for debugging numerics), eager (dynamo's trace only), cudagraphs.
BACKENDS = ("inductor", "aot_eager", "eager", "cudagraphs")


def compile_backend(compile) -> str | None:
    """The ``torch.compile`` backend an agent's ``compile`` setting asks for: False/None ->
    None (eager), True -> ``"inductor"``, a string -> that backend (one of :data:`BACKENDS`)."""
    if compile is None or compile is False:
        return None
    if compile is True:
        return "inductor"
    if not isinstance(compile, str):
        raise TypeError(
            f"compile must be True, False or a torch.compile backend name, got {compile!r}"
        )
    if compile not in BACKENDS:
        raise ValueError(
            f"compile={compile!r} is not a torch.compile backend rlpyt runs: use one of "
            f"{', '.join(BACKENDS)} (True means inductor)"
        )
    return compile


def input_signature(module: torch.nn.Module, args, kwargs) -> tuple:
    """What makes a compiled graph reusable: grad mode, train/eval and every tensor's
    ``(shape, dtype, device, requires_grad)`` (other leaves by value), in argument order."""
    leaves = []

    def walk(x):
        if isinstance(x, torch.Tensor):
            leaves.append((tuple(x.shape), x.dtype, x.device.type, x.requires_grad))
        elif isinstance(x, (tuple, list)):  # namedarraytuples are tuples
            for item in x:
                walk(item)
        elif isinstance(x, dict):
            for key in sorted(x):
                walk(x[key])
        else:
            leaves.append(x)

    walk(args)
    walk(kwargs)
    return (torch.is_grad_enabled(), module.training, tuple(leaves))


def _describe(signature: tuple) -> str:
    grad, training, leaves = signature
    tensors = [leaf for leaf in leaves if isinstance(leaf, tuple) and len(leaf) == 4]
    # "+grad" marks an input that requires grad (e.g. SAC's critics on the policy's action).
    shapes = " ".join(f"{list(shape)}{'+grad' if rg else ''}" for shape, _d, _v, rg in tensors)
    return f"inputs {shapes}, {'grad' if grad else 'no_grad'}, {'train' if training else 'eval'}"


def _clone_outputs(x):
    """Tensors cloned, containers (tuples, namedarraytuples, lists) rebuilt around them."""
    if isinstance(x, torch.Tensor):
        return x.clone()
    if isinstance(x, tuple):
        items = [_clone_outputs(item) for item in x]
        return type(x)(*items) if hasattr(x, "_fields") else tuple(items)
    if isinstance(x, list):
        return [_clone_outputs(item) for item in x]
    return x


class CompiledForward:
    """The compiled call of one module; times the first call of each input signature.

    Args:
        module: the network (already compiled with ``module.compile``).
        compiled_call: the callable ``module.compile`` installed.
        name: the network's name in the agent (``"model"``, ``"q1_model"``), for the log.
        clone_outputs: clone every output tensor (CUDA graphs reuse their output memory).
        on_warmup: ``on_warmup(name, description, seconds)`` after each warm-up call.
    """

    def __init__(self, module, compiled_call, name: str, clone_outputs: bool, on_warmup):
        self.module = module
        self.compiled_call = compiled_call
        self.name = name
        self.clone_outputs = bool(clone_outputs)
        self.on_warmup = on_warmup
        self.signatures = set()  # input signatures already compiled

    def __call__(self, *args, **kwargs):
        signature = input_signature(self.module, args, kwargs)
        if signature in self.signatures:
            out = self.compiled_call(*args, **kwargs)
        else:
            start = time.perf_counter()
            out = self.compiled_call(*args, **kwargs)
            self.signatures.add(signature)
            if self.on_warmup is not None:
                self.on_warmup(self.name, _describe(signature), time.perf_counter() - start)
        return _clone_outputs(out) if self.clone_outputs else out


def compile_mode(device: torch.device) -> str | None:
    """``"reduce-overhead"`` (CUDA graphs) on CUDA, inductor's default mode elsewhere."""
    return "reduce-overhead" if device.type == "cuda" else None


def is_compiled(module: torch.nn.Module) -> bool:
    """Whether :func:`compile_network` has compiled ``module`` (in this process)."""
    return isinstance(module._compiled_call_impl, CompiledForward)


def compile_network(
    module: torch.nn.Module,
    *,
    name: str,
    device: torch.device,
    on_warmup=None,
    backend: str = "inductor",
) -> None:
    """Run ``module``'s calls through ``torch.compile`` from now on (see the module docstring).

    ``device``: where the module lives (CUDA: ``mode="reduce-overhead"``, outputs cloned).
    ``backend``: ``torch.compile``'s backend; the modes are inductor's, other backends (e.g.
    ``"eager"``, which traces without generating code) run without one.
    Raises ``ValueError`` for a module whose ``forward`` is one of torch's own (e.g. a bare
    ``nn.Sequential``): ``nn.Module.compile`` would not trace it, and the agent would run
    eagerly while claiming to be compiled.
    """
    forward = type(module).forward
    if forward.__module__.startswith("torch."):
        raise ValueError(
            f"compile: network {name!r} is a {type(module).__name__}, whose forward is torch's "
            f"own ({forward.__module__}); torch.compile does not trace it in place. Wrap it in "
            "a model class of your own (as rlpyt's models are) or set compile=False"
        )
    mode = compile_mode(device) if backend == "inductor" else None
    module.compile(backend=backend, dynamic=False, mode=mode)
    # nn.Module.compile installs the compiled call here; the timing wrapper goes around it.
    module._compiled_call_impl = CompiledForward(
        module,
        module._compiled_call_impl,
        name=name,
        clone_outputs=mode == "reduce-overhead",
        on_warmup=on_warmup,
    )
