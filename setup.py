"""Package build; the static metadata lives in setup.cfg.

The TensorFlow wheel is chosen at install time: tensorflow-cpu by default
(no CUDA download on CPU machines), or whatever DEEPBSDE_TENSORFLOW names,
e.g. DEEPBSDE_TENSORFLOW='tensorflow[and-cuda]' on a GPU machine (the
Makefile sets it when nvidia-smi is present). tensorflow-cpu and tensorflow
must never be installed side by side: both provide the `tensorflow` module.
"""
import os
import platform

from setuptools import setup

DEFAULT_TENSORFLOW = "tensorflow>=2.16" if platform.machine() == "aarch64" else "tensorflow-cpu>=2.16"

setup(install_requires=[os.environ.get("DEEPBSDE_TENSORFLOW") or DEFAULT_TENSORFLOW,
                        "numpy>=1.26", "scipy>=1.11", "pyyaml>=6.0", "matplotlib>=3.8",
                        "tensorboard>=2.16"])
