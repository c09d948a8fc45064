"""Multi-layer perceptron."""

import torch

__all__ = ["MlpModel"]


class MlpModel(torch.nn.Module):
    """Linear layers with ``nonlinearity`` after each hidden layer (none after the output).

    Input ``[N, input_size]`` (any leading dims work, as for ``torch.nn.Linear``).

    Args:
        input_size: features in.
        hidden_sizes: int or sequence of hidden layer sizes (``None``/empty: none).
        output_size: size of a final linear layer; ``None`` ends with the last
            hidden layer's nonlinearity.
        nonlinearity: module class (not instance), e.g. ``torch.nn.ReLU``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes,
        output_size: int | None = None,
        nonlinearity=torch.nn.ReLU,
    ):
        super().__init__()
        if isinstance(hidden_sizes, int):
            hidden_sizes = [hidden_sizes]
        hidden_sizes = list(hidden_sizes or [])
        layers = []
        last_size = int(input_size)
        for size in hidden_sizes:
            layers.extend([torch.nn.Linear(last_size, size), nonlinearity()])
            last_size = size
        if output_size is not None:
            layers.append(torch.nn.Linear(last_size, output_size))
            last_size = output_size
        self.model = torch.nn.Sequential(*layers)
        self._output_size = last_size

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.model(input)

    @property
    def output_size(self) -> int:
        """Features out: ``output_size``, else the last hidden size, else ``input_size``."""
        return self._output_size
