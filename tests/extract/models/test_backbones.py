"""The `image` and `video` backbones: the table is torchvision's and timm's, the files load as
their publishers wrote them, and the feature is the vector the published classifier reads."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
import torch

from cinefeat.extract import pretrained
from cinefeat.extract.backbones import get_backbone, list_backbones
from cinefeat.extract.extractors import EXTRACTORS
from cinefeat.extract.nets.runtime import CheckpointError

VIDEO_WEIGHTS = {
    "r2plus1d_18": "R2Plus1D_18_Weights", "r3d_18": "R3D_18_Weights", "mc3_18": "MC3_18_Weights",
    "s3d": "S3D_Weights", "swin3d_t": "Swin3D_T_Weights", "swin3d_s": "Swin3D_S_Weights",
    "swin3d_b": "Swin3D_B_Weights", "mvit_v1_b": "MViT_V1_B_Weights",
    "mvit_v2_s": "MViT_V2_S_Weights",
}  # fmt: skip
IMAGE_WEIGHTS = {
    "shufflenet_v2_x1_0": ("ShuffleNet_V2_X1_0_Weights", "IMAGENET1K_V1"),
    "resnet18": ("ResNet18_Weights", "IMAGENET1K_V1"),
    "resnet50": ("ResNet50_Weights", "IMAGENET1K_V2"),
    "swin_t": ("Swin_T_Weights", "IMAGENET1K_V1"),
    "swin_b": ("Swin_B_Weights", "IMAGENET1K_V1"),
}


def _torchvision_weights(name: str):
    import torchvision.models as models
    import torchvision.models.video as video

    if name in VIDEO_WEIGHTS:
        return getattr(video, VIDEO_WEIGHTS[name]).KINETICS400_V1, video
    enum, tag = IMAGE_WEIGHTS[name]
    return getattr(getattr(models, enum), tag), models


@pytest.mark.parametrize("name", [*VIDEO_WEIGHTS, *IMAGE_WEIGHTS])
def test_table_is_torchvisions(name):
    """URL, crop, resize, mean/std, clip length, frame rate and dim as torchvision publishes."""
    weights, module = _torchvision_weights(name)
    backbone = get_backbone(name, "clips" if name in VIDEO_WEIGHTS else "frames")
    entry = pretrained.get_weights(backbone.weights)
    assert entry.main_file.url == weights.url
    assert weights.url.rsplit("/", 1)[-1].split("-")[-1].startswith(entry.main_file.sha256_prefix)
    transform = weights.transforms()
    assert backbone.input.crop == transform.crop_size[0]
    assert backbone.input.resize == min(transform.resize_size)
    assert backbone.input.mean == pytest.approx(tuple(transform.mean))
    assert backbone.input.std == pytest.approx(tuple(transform.std))
    if name in VIDEO_WEIGHTS:  # "clip_len=16", "frame_rate=15" in the weights' documentation
        docs = weights.meta["_docs"]
        clip_len = int(re.search(r"clip_len=(\d+)", docs).group(1))
        # S3D is evaluated on 128-frame clips; its default here is 32 (memory), said in the docs
        assert backbone.input.frames == (32 if name == "s3d" else clip_len)
        assert backbone.input.fps == float(re.search(r"frame_rate=([\d.]+)", docs).group(1))
    with torch.device("meta"):
        full = getattr(module, name)(weights=None)
    classifier = backbone.drop_prefixes[0].rstrip(".")
    head = getattr(full, classifier)
    head = head[-1] if isinstance(head, torch.nn.Sequential) else head
    assert backbone.dim == (head.in_features if hasattr(head, "in_features") else head.in_channels)


def _local(tmp_path, name, state, like, **save):
    path = tmp_path / name
    torch.save(state, path, **save)
    pretrained.add_local(f"test-{name}", path, like=like)
    return f"test-{name}"


def _logits_check(extractor, full, classifier: str, items, x):
    """The feature times the published classifier's weights gives the published logits."""
    ours = torch.from_numpy(extractor.extract_batch(items))
    with torch.inference_mode():
        logits = full.eval()(x)
        head = getattr(full, classifier)
        head = head[-1] if isinstance(head, torch.nn.Sequential) else head
        weight = head.weight.reshape(head.weight.shape[0], -1)
        predicted = ours @ weight.T + head.bias
    np.testing.assert_allclose(predicted.numpy(), logits.numpy(), rtol=1e-4, atol=1e-4)


def _normalise(batch: np.ndarray, spec, frames: bool) -> torch.Tensor:
    x = torch.from_numpy(batch).float() / 255.0
    x = x.permute(0, 3, 1, 2) if frames else x.permute(0, 4, 1, 2, 3)
    shape = (1, 3, 1, 1) if frames else (1, 3, 1, 1, 1)
    return (x - torch.tensor(spec.mean).view(shape)) / torch.tensor(spec.std).view(shape)


@pytest.mark.parametrize(("name", "frames"), [("r3d_18", 8), ("s3d", 16)])
def test_video_feature_is_what_the_classifier_reads(tmp_cache, tmp_path, name, frames):
    import torchvision.models.video as video

    torch.manual_seed(0)
    full = getattr(video, name)(weights=None)  # torchvision's published layout, random values
    backbone = get_backbone(name, "clips")
    weights = _local(tmp_path, f"{name}.pth", full.state_dict(), backbone.weights)
    extractor = EXTRACTORS.create("video", model=name, weights=weights, frames_per_clip=frames)
    extractor.load("cpu")
    crop = backbone.input.crop
    rng = np.random.default_rng(0)
    clips = [rng.integers(0, 255, (frames, crop, crop + 40, 3), dtype=np.uint8) for _ in range(2)]
    cropped = np.stack([c[:, :, 20 : 20 + crop] for c in clips])  # the centre crop
    _logits_check(extractor, full, backbone.drop_prefixes[0][:-1], clips,
                  _normalise(cropped, backbone.input, frames=False))  # fmt: skip
    short = extractor.extract_batch([clips[0][:3]])  # a short clip is padded, not refused
    assert short.shape == (1, extractor.dim)


@pytest.mark.parametrize("name", ["resnet18", "shufflenet_v2_x1_0"])
def test_image_feature_is_what_the_classifier_reads(tmp_cache, tmp_path, name):
    import torchvision.models as models

    torch.manual_seed(0)
    full = getattr(models, name)(weights=None)
    backbone = get_backbone(name, "frames")
    weights = _local(tmp_path, f"{name}.pth", full.state_dict(), backbone.weights)
    extractor = EXTRACTORS.create("image", model=name, weights=weights)
    extractor.load("cpu")
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (224, 300, 3), dtype=np.uint8) for _ in range(3)]
    x = _normalise(np.stack([f[:, 38:262] for f in frames]), backbone.input, frames=True)
    _logits_check(extractor, full, "fc", frames, x)
    info = extractor.provenance()
    assert info["weights_sha256"] == pretrained.weights_sha256(weights)
    assert info["dim"] == {"resnet18": 512, "shufflenet_v2_x1_0": 1024}[name]


def test_torchvision_file_name_prefix_is_checked(tmp_cache):
    """A file that is not the published one (its sha256 lacks the name's prefix) is refused."""
    backbone = get_backbone("resnet18", "frames")
    import torchvision.models as models

    path = pretrained.entry_dir(backbone.weights) / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(pretrained.WeightsError, match="f37072fd"):
        EXTRACTORS.create("image", model="resnet18").load("cpu")
    assert (
        not (tmp_cache / "recorded-sha256.json").exists()
        or "resnet18" not in (tmp_cache / "recorded-sha256.json").read_text()
    )


def _places_checkpoint(path, state_dict):
    """As CSAIL's training script saved it (PyTorch 0.2-0.3): a training dict around a
    DataParallel state dict, in the legacy (non-zip) container."""
    checkpoint = {
        "epoch": 90,
        "arch": "resnet50",
        "state_dict": {f"module.{k}": v for k, v in state_dict.items()},
        "best_prec1": 54.65,
    }
    torch.save(checkpoint, path, _use_new_zipfile_serialization=False)


def test_places365_training_checkpoint_loads_through_the_restricted_unpickler(tmp_cache):
    import torchvision.models as models

    torch.manual_seed(0)
    full = models.resnet50(weights=None, num_classes=365)
    path = pretrained.entry_dir("places365-resnet50") / "resnet50_places365.pth.tar"
    path.parent.mkdir(parents=True)
    _places_checkpoint(path, full.state_dict())
    assert path.read_bytes()[:2] == b"\x80\x02"  # the legacy container
    extractor = EXTRACTORS.create("image", model="places365_resnet50")
    extractor.load("cpu")
    frame = np.random.default_rng(2).integers(0, 255, (256, 320, 3), dtype=np.uint8)
    x = _normalise(frame[None, 16:240, 48:272], extractor.backbone.input, frames=True)
    _logits_check(extractor, full, "fc", [frame], x)
    assert extractor.provenance()["weights_sha256"] == pretrained.sha256_of(path)


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_places365_file_that_runs_code_is_refused(tmp_cache):
    path = pretrained.entry_dir("places365-resnet50") / "resnet50_places365.pth.tar"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"state_dict": _Exploit()}, protocol=2))
    with pytest.raises((CheckpointError, pretrained.WeightsError)):
        EXTRACTORS.create("image", model="places365_resnet50").load("cpu")


def test_timm_model_by_name_from_its_hub_safetensors(tmp_cache):
    """timm's repositories hold the full model (classifier included) as model.safetensors."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    full = timm.create_model("resnet18", pretrained=False)
    extractor = EXTRACTORS.create("image", model="timm:resnet18")
    assert extractor.weights == "timm-resnet18.a1_in1k" and extractor.dim == 512
    entry = pretrained.get_weights(extractor.weights)
    assert entry.main_file.url.endswith("timm/resnet18.a1_in1k/resolve/main/model.safetensors")
    path = pretrained.entry_dir(extractor.weights) / "model.safetensors"
    path.parent.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in full.state_dict().items()}, str(path))
    extractor.load("cpu")
    spec = extractor.backbone.input
    assert (spec.resize, spec.crop) == (235, 224)  # crop_pct 0.95 of timm's pretrained config
    frame = np.random.default_rng(3).integers(0, 255, (235, 300, 3), dtype=np.uint8)
    top, left = (235 - 224) // 2, (300 - 224) // 2
    x = _normalise(frame[None, top : top + 224, left : left + 224], spec, frames=True)
    _logits_check(extractor, full, "fc", [frame], x)


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="r2plus1d_18"):
        EXTRACTORS.create("video", model="r2plus1d_34")
    with pytest.raises(ValueError, match="timm:"):
        EXTRACTORS.create("image", model="resnet5O")
    with pytest.raises(ValueError, match="not a timm model"):
        EXTRACTORS.create("image", model="timm:no_such_net")
    with pytest.raises(ValueError, match="16 frames"):
        EXTRACTORS.create("video", model="mvit_v2_s", frames_per_clip=24)


def test_missing_weights_name_the_download_command(tmp_cache):
    with pytest.raises(pretrained.WeightsNotFound, match="cinefeat models download"):
        EXTRACTORS.create("video").load("cpu")
    assert {b.name for b in list_backbones("clips")} >= set(VIDEO_WEIGHTS)


@pytest.mark.slow
def test_image_and_video_end_to_end_on_a_real_video(tmp_cache, tmp_path, media):
    """`cinefeat extract --features image,video` on real footage: one row per shot each."""
    import json
    import os

    import torchvision.models as models
    import torchvision.models.video as video
    from click.testing import CliRunner

    from cinefeat.cli.main import main
    from cinefeat.store import FeatureStore

    torch.manual_seed(0)
    image_w = _local(
        tmp_path, "resnet18.pth", models.resnet18().state_dict(), "torchvision-resnet18"
    )
    video_w = _local(tmp_path, "r3d.pth", video.r3d_18().state_dict(), "torchvision-r3d_18")
    root = tmp_path / "videos"
    root.mkdir()
    os.symlink(media("bikes.mp4"), root / "bikes.mp4")  # 10 s, five hard cuts, no audio
    options = ["image.model=resnet18", f"image.weights={image_w}", "video.model=r3d_18",
               f"video.weights={video_w}", "video.frames_per_clip=8"]  # fmt: skip
    args = ["--quiet", "extract", str(root), "--store", str(tmp_path / "s"), "--features",
            "image,video", "--json"] + [a for o in options for a in ("--option", o)]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{") :])["ok"] == 1
    store = FeatureStore.open(tmp_path / "s")
    image, clips = store.get("bikes", "image"), store.get("bikes", "video")
    assert image.values.shape == (6, 512)  # the middle frame of each of the six shots
    assert clips.values.shape[1] == 512 and len(clips) >= 6  # clips tile each shot
    cuts = [0.0, *store.record("bikes").extra["scenes"]["cuts_s"]]
    assert set(np.round(cuts, 3)) <= set(np.round(clips.spans[:, 0], 3))  # no clip spans a cut
    assert np.isfinite(image.values.astype(np.float32)).all()
    provenance = store.provenance("video")
    assert provenance["backbone"] == "r3d_18" and provenance["weights"] == video_w
