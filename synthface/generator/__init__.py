"""The style-based generator (StyleGAN2 family) and its discriminator."""

from synthface.generator.discriminator import Discriminator
from synthface.generator.networks import Generator

__all__ = ["Discriminator", "Generator"]
