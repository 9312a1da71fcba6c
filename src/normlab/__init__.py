"""normlab: reproduce, check and extend "Understanding and Improving Layer Normalization" (Xu et al., 2019)."""

__version__ = "0.1.0"
