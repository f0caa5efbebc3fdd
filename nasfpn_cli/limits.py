"""Upper bounds on sizes that every command and the Python API share.

Beyond these a model or an image does not fit in the memory of any machine this tool runs on, so
they are refused up front (a usage error naming the option) instead of ending in an out-of-memory
crash deep inside torch or numpy.
"""
from __future__ import annotations

# A float32 RGB image of 8192 x 8192 is 0.8 GB before the backbone's first feature map
# (64 channels at half the side: 4.3 GB); larger sides cannot train or even run on a CPU machine.
MAX_IMAGE_SIZE = 8192
# Pyramid copies (N of N@C) and channels (C): 64@4096 is already far past any published model.
MAX_STACK = 64
MAX_CHANNELS = 4096
# Images per step (per process) and per exported batch: the paper trains with 64 over 8 TPUs;
# a thousand 640 px images are already 5 GB of input before the first layer.
MAX_BATCH_SIZE = 1024
# Detection classes: LVIS has 1,203; the head's last conv grows with classes x anchors x channels
# (256 channels, 9 anchors, 10,000 classes: 207M parameters), so more cannot be meant.
MAX_NUM_CLASSES = 10000
# Convolutions in each head branch: RetinaNet has 4; the head is built once per file read, so
# a stored spec's 10^6 (a 19 MB file asking for 10^6 layers) must be refused before it is built.
MAX_HEAD_CONVS = 32
# Merging cells of a searched pyramid: the paper searched 7; every cell is four controller
# decisions, and 100,000 cells run the machine out of memory before the first trial.
MAX_SEARCH_CELLS = 64
# Seeds go to numpy, which takes 0 .. 2**32 - 1.
MAX_SEED = 2 ** 32 - 1
# Worker processes on this machine (data loader workers, local search workers): each is a
# process with its own torch; beyond a few per core they only fight over the cores and memory
# (10,000 of them exhaust any machine), so more are refused.
PROCESSES_PER_CORE = 4


def max_local_processes() -> int:
    """The most worker processes one command may start here: 4 per core, at least 16."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(16, PROCESSES_PER_CORE * cores)
