"""Convolution stacks, alone or followed by an MLP head."""

import torch

from rlpyt.models.mlp import MlpModel
from rlpyt.models.utils import conv2d_output_shape

__all__ = ["Conv2dModel", "Conv2dHeadModel"]


class Conv2dModel(torch.nn.Module):
    """Conv2d layers, each followed by ``nonlinearity`` (and a max-pool when ``use_maxpool``).

    Input ``[N, C, H, W]`` (float). With ``use_maxpool`` every conv has stride 1
    and the given strides become max-pool sizes instead (downsampling by pooling).

    Args:
        in_channels: C of the input.
        channels, kernel_sizes, strides, paddings: one entry per layer
            (``paddings=None``: no padding).
    """

    def __init__(
        self,
        in_channels: int,
        channels,
        kernel_sizes,
        strides,
        paddings=None,
        nonlinearity=torch.nn.ReLU,
        use_maxpool: bool = False,
    ):
        super().__init__()
        channels = list(channels)
        paddings = [0] * len(channels) if paddings is None else list(paddings)
        if not len(channels) == len(kernel_sizes) == len(strides) == len(paddings):
            raise ValueError(
                f"one entry per conv layer needed: channels {channels}, kernel_sizes "
                f"{list(kernel_sizes)}, strides {list(strides)}, paddings {paddings}"
            )
        conv_strides, pool_sizes = (
            ([1] * len(strides), list(strides))
            if use_maxpool
            else (list(strides), [1] * len(strides))
        )
        layers = []
        for ic, oc, k, s, p, pool in zip(
            [in_channels] + channels[:-1],
            channels,
            kernel_sizes,
            conv_strides,
            paddings,
            pool_sizes,
        ):
            layers.extend(
                [torch.nn.Conv2d(ic, oc, kernel_size=k, stride=s, padding=p), nonlinearity()]
            )
            if pool > 1:
                layers.append(torch.nn.MaxPool2d(pool))
        self.conv = torch.nn.Sequential(*layers)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` -> ``[N, C', H', W']`` (contiguous).

        On the CPU, a pass that will be differentiated (gradients enabled) runs in the
        channels-last memory layout: oneDNN's convolution backward is faster there (the
        Nature-CNN DQN step at batch 32, one thread: 33.2 -> 30.1 ms on the machine of
        docs/benchmarks.md), while forward-only passes (acting, target networks) are
        faster in the default layout (batch 8: 1.94 against 2.15 ms), so they keep it. The
        output is made contiguous again, so callers see the same tensor either way (values
        equal up to float rounding: the layouts take different kernels).
        """
        if input.device.type == "cpu" and torch.is_grad_enabled() and input.dim() == 4:
            out = self.conv(input.contiguous(memory_format=torch.channels_last))
            return out.contiguous()
        return self.conv(input)

    def conv_out_size(self, h: int, w: int, c: int | None = None) -> int:
        """Flattened output size for an ``h`` x ``w`` input, without a forward pass."""
        for layer in self.conv.children():
            if isinstance(layer, torch.nn.Conv2d | torch.nn.MaxPool2d):
                h, w = conv2d_output_shape(h, w, layer.kernel_size, layer.stride, layer.padding)
            if isinstance(layer, torch.nn.Conv2d):
                c = layer.out_channels
        return h * w * c


class Conv2dHeadModel(torch.nn.Module):
    """:class:`Conv2dModel` then an :class:`MlpModel` on the flattened features.

    Input ``[N, C, H, W]``, output ``[N, output_size]``. With neither
    ``hidden_sizes`` nor ``output_size`` the flattened conv features come out.
    Note that with ``hidden_sizes`` but no ``output_size`` the output has been
    through the nonlinearity (as the policy/value heads on top expect).
    """

    def __init__(
        self,
        image_shape,
        channels,
        kernel_sizes,
        strides,
        hidden_sizes,
        output_size: int | None = None,
        paddings=None,
        nonlinearity=torch.nn.ReLU,
        use_maxpool: bool = False,
    ):
        super().__init__()
        c, h, w = image_shape
        self.conv = Conv2dModel(
            in_channels=c,
            channels=channels,
            kernel_sizes=kernel_sizes,
            strides=strides,
            paddings=paddings,
            nonlinearity=nonlinearity,
            use_maxpool=use_maxpool,
        )
        conv_out_size = self.conv.conv_out_size(h, w)
        if hidden_sizes or output_size:
            self.head = MlpModel(
                conv_out_size, hidden_sizes, output_size=output_size, nonlinearity=nonlinearity
            )
            self._output_size = self.head.output_size
        else:
            self.head = torch.nn.Identity()
            self._output_size = conv_out_size

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(input).reshape(input.shape[0], -1))

    @property
    def output_size(self) -> int:
        return self._output_size
