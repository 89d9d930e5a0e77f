"""Which number format the training step computes in.

bf16 autocast halves the bytes every convolution moves and, where the hardware has
bf16 dot-product instructions (CUDA GPUs; x86 CPUs with AVX512-BF16 or AMX, whose
oneDNN kernels use them), about doubles its arithmetic rate: on this project's 2-core
AVX512-BF16 CPU the G+D step ran 1.56x faster at the default widths and 2.2x at 2048/128
(benchmarks/train_speed.py). Elsewhere bf16 is emulated and slower than fp32, so the
default follows the hardware.

bf16 keeps fp32's exponent range, so unlike fp16 it needs no loss scaling or clamping.
Inside G's synthesis network and D the activations are bf16 (convolutions accumulate in
fp32); the weights, the optimiser, the losses and regulariser sums stay fp32, and the
mapping network runs in fp32 so that w (and the w_avg that truncation uses) keeps full
precision. benchmarks/precision_agreement.py measures how far one step's gradients move.
"""

from __future__ import annotations

import torch

PRECISIONS = ("fp32", "bf16")


def native_bf16(device_type: str) -> bool:
    """True where bf16 arithmetic is native, not emulated: CUDA, or a CPU oneDNN can run bf16 on."""
    if device_type == "cuda":
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch built without oneDNN
        return False


def default_precision(device_type: str) -> str:
    """bf16 where it is native (faster), else fp32."""
    return "bf16" if native_bf16(device_type) else "fp32"


def autocast(device_type: str, precision: str) -> torch.autocast:
    """The autocast context for one forward pass (a no-op context for fp32)."""
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=precision == "bf16")
