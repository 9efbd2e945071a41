"""A fixture for tests of tiny torch models: one intra-op thread is faster than two
for them, and far faster on a busy machine, where extra threads only wait."""

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
