"""Every registered head: loss goes down, padding is irrelevant, save/load is exact."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import LABELS, SMALL_CONFIGS, tiny_data, tiny_specs

from cinefeat.fuse.data import fit_normalization, prepare_inputs
from cinefeat.fuse.heads import HEADS, Head, HeadConfigError, build_head
from cinefeat.fuse.train import TrainConfig, fit

HEAD_NAMES = sorted(HEADS)


def test_every_head_has_a_small_test_config() -> None:
    assert sorted(SMALL_CONFIGS) == HEAD_NAMES


def make_head(name: str, average: tuple[str, ...] = ()) -> Head:
    torch.manual_seed(0)
    return build_head(name, tiny_specs(average), LABELS, SMALL_CONFIGS[name])


def first_batch(head: Head, average: tuple[str, ...] = ()):
    data = tiny_data(16, seed=3, average=average)
    inputs, masks, labels = next(data.batches(16))
    return (*prepare_inputs(inputs, masks, head.normalization, "cpu"), labels)


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_training_lowers_the_loss(name: str) -> None:
    data = tiny_data(64)
    head = make_head(name)
    head.normalization = fit_normalization(data)
    inputs, masks, labels = first_batch(head)
    criterion = torch.nn.BCEWithLogitsLoss()

    def loss() -> float:
        head.eval()
        with torch.no_grad():
            return float(criterion(head(inputs, masks), labels))

    before = loss()
    fit(head, data, None, TrainConfig(epochs=6, lr=3e-3, batch_size=16, pos_weight=1.0))
    assert loss() < 0.9 * before


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_padded_values_do_not_change_the_output(name: str) -> None:
    head = make_head(name).eval()
    inputs, masks, _ = first_batch(head)
    assert any((~m).any() for m in masks.values()), "the batch must contain padding"
    noisy = {
        n: torch.where(masks[n].unsqueeze(-1), x, torch.randn_like(x) * 100)
        for n, x in inputs.items()
    }
    with torch.no_grad():
        torch.testing.assert_close(head(noisy, masks), head(inputs, masks))
        torch.testing.assert_close(head.embed(noisy, masks), head.embed(inputs, masks))
        torch.testing.assert_close(
            head.predict_proba(noisy, masks), head.predict_proba(inputs, masks)
        )


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_prediction_does_not_depend_on_batch_mates_or_padded_length(name: str) -> None:
    """Each trailer alone, its padding cut to its own length, scores as it did in the batch."""
    head = make_head(name).eval()
    inputs, masks, _ = first_batch(head)
    with torch.no_grad():
        batch = head.predict_proba(inputs, masks)
        for row in range(len(batch)):
            own = {n: max(1, int(m[row].sum())) for n, m in masks.items()}
            alone = head.predict_proba(
                {n: x[row : row + 1, : own[n]] for n, x in inputs.items()},
                {n: m[row : row + 1, : own[n]] for n, m in masks.items()},
            )
            torch.testing.assert_close(alone[0], batch[row])


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_save_and_load_give_identical_outputs(name: str, tmp_path: Path) -> None:
    head = make_head(name)
    head.normalization = fit_normalization(tiny_data(32))
    head.provenance = {"clip": {"model": "ViT-B-32"}}
    head.eval()
    inputs, masks, _ = first_batch(head)
    head.save_pretrained(tmp_path / "head")
    loaded = Head.from_pretrained(tmp_path / "head")
    assert type(loaded) is type(head) and loaded.label_names == LABELS
    assert loaded.provenance == head.provenance and loaded.features == head.features
    with torch.no_grad():
        assert torch.equal(loaded(inputs, masks), head(inputs, masks))
    for feature, (mean, std) in head.normalization.items():
        assert torch.equal(loaded.normalization[feature][0], mean)
        assert torch.equal(loaded.normalization[feature][1], std)


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_embed_then_classifier_is_forward(name: str) -> None:
    head = make_head(name).eval()
    inputs, masks, _ = first_batch(head)
    with torch.no_grad():
        embedding = head.embed(inputs, masks)
        assert embedding.shape == (16, head.embed_dim)
        if head.scores_from_embedding:  # the zero-shot head attends once per label instead
            torch.testing.assert_close(head.classifier(embedding), head(inputs, masks))


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_averaged_features_are_accepted(name: str) -> None:
    head = make_head(name, average=("audiotag",)).eval()
    inputs, masks, _ = first_batch(head, average=("audiotag",))
    assert inputs["audiotag"].shape[1] == 1
    with torch.no_grad():
        assert torch.isfinite(head(inputs, masks)).all()


def test_unknown_head_and_option_name_the_choices() -> None:
    with pytest.raises(HeadConfigError, match="choose from"):
        build_head("nope", tiny_specs(), LABELS)
    with pytest.raises(HeadConfigError, match="valid"):
        build_head("mlp", tiny_specs(), LABELS, {"hiddden": 3})


def test_missing_feature_is_a_clear_error() -> None:
    head = make_head("mlp")
    inputs, masks, _ = first_batch(head)
    with pytest.raises(HeadConfigError, match="inputs lack"):
        head({"clip": inputs["clip"]}, {"clip": masks["clip"]})


def test_command_line_values_are_cast_to_the_field_types() -> None:
    head = build_head(
        "hierarchical", tiny_specs(), LABELS, {"layers": "2", "merge_threshold": "0.9"}
    )
    assert head.config.layers == 2 and head.config.merge_threshold == 0.9
    with pytest.raises(HeadConfigError, match="needs a int"):
        build_head("mlp", tiny_specs(), LABELS, {"hidden": "wide"})


def test_compression_merges_similar_neighbours_only() -> None:
    from cinefeat.fuse.heads.hierarchical import compress

    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    values = torch.stack([a, 2 * a, b, a, torch.full((2,), 9.0)]).unsqueeze(0)
    mask = torch.tensor([[True, True, True, True, False]])
    merged, merged_mask = compress(values, mask, threshold=0.6)
    assert merged_mask.tolist() == [[True, True, True]]
    assert merged[0].tolist() == [[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]]  # max-pooled run, no pad


def test_clip_aggregation_trains_on_windows_and_averages_them() -> None:
    head = make_head("clip-aggregation").eval()  # window 4
    inputs, masks, _ = first_batch(head)
    view, view_masks = head.training_view(inputs, masks, torch.Generator().manual_seed(0))
    assert all(v.shape[1] == 4 for v in view.values())
    assert all((view_masks[n].sum(1) <= masks[n].sum(1)).all() for n in masks)
    with torch.no_grad():
        probabilities = head.predict_proba(inputs, masks)
    assert probabilities.shape == (16, 3) and ((probabilities > 0) & (probabilities < 1)).all()
