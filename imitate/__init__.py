"""imitate: fine-tune open LMs on a teacher's outputs and measure style vs capability."""

__version__ = "0.1.0"
