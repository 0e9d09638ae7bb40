"""Checkpoints pickled the way their publishers pickled them: numpy 1 spellings, training dicts.

PANNs' training script (qiuqiangkong/audioset_tagging_cnn, `pytorch/main.py`) saves
`{'iteration', 'model', 'sampler': train_sampler.state_dict()}`, and the sampler state holds numpy
int64 index arrays. Files written before numpy 2 name `numpy.core.multiarray._reconstruct`; numpy 2
cannot write that spelling, so the `numpy1_pickle` fixture (conftest) rewrites the GLOBAL operand
of a legacy-container pickle.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cinefeat.extract.nets.runtime import CheckpointError, load_torch_checkpoint


def test_panns_training_checkpoint_with_numpy1_sampler_state_loads(tmp_path, numpy1_pickle):
    indexes = np.where(np.arange(20) % 3 == 0)[0].astype(np.int64)
    checkpoint = {
        "iteration": 660000,
        "model": {"fc1.weight": torch.arange(6.0).reshape(2, 3)},
        "sampler": {"indexes_per_class": [indexes, indexes[:2]], "queue": [], "pointers": [0, 3]},
    }
    path = tmp_path / "Cnn14_mAP=0.431.pth"
    numpy1_pickle(checkpoint, path)
    assert b"numpy.core.multiarray\n_reconstruct" in path.read_bytes()
    loaded = load_torch_checkpoint(path, allow_numpy=True)
    assert torch.equal(loaded["model"]["fc1.weight"], checkpoint["model"]["fc1.weight"])
    np.testing.assert_array_equal(loaded["sampler"]["indexes_per_class"][0], indexes)
    assert loaded["iteration"] == 660000


def test_vggish_pca_numpy1_file_loads(tmp_path, numpy1_pickle):
    params = {
        "pca_eigen_vectors": np.random.default_rng(0).normal(size=(128, 128)),
        "pca_means": np.zeros((128, 1)),
    }
    path = tmp_path / "vggish_pca_params-970ea276.pth"
    numpy1_pickle(params, path)
    loaded = load_torch_checkpoint(path, allow_numpy=True)
    np.testing.assert_array_equal(loaded["pca_eigen_vectors"], params["pca_eigen_vectors"])


class _Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_pickle_that_asks_for_any_other_global_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": _Payload()}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="print"):
        load_torch_checkpoint(path, allow_numpy=True)
