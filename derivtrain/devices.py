"""trainer.device: auto | cpu | cuda | cuda:N -> a torch.device that exists on this machine."""
import torch

from derivtrain.config.schemas.trainer import check_device_name
from derivtrain.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    check_device_name(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"trainer.device={name} but this machine has no CUDA device; choices: auto, cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"trainer.device={name} but this machine has {torch.cuda.device_count()} CUDA "
                              f"device(s); choices: auto, cpu, cuda:0..cuda:{torch.cuda.device_count() - 1}")
    return device
