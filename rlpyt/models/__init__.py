"""Torch models. Every model accepts inputs with ``[]``, ``[B]`` or ``[T, B]`` leading dims."""
