"""guard: a data-leak prevention proxy for LLM traffic."""

import os

# The name model's matrix products are small: BLAS threads only spin and fight the detection
# workers for cores (measured 5-10x slower on a busy 2-core box). One thread per process, unless the
# site set these itself. Must happen before numpy is first imported, hence here.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
