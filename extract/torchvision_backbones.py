"""torchvision's ImageNet and Kinetics-400 classifiers, and the Places365 ResNet, as backbones.

The facts below are torchvision's own (`<Model>_Weights.<tag>`: `url`, `transforms()`, `meta`;
`tests/extract/models/test_backbones.py` checks this table against the installed torchvision),
so a file is found and checked without torchvision's hub code: the hex at the end of each file
name is the start of its sha256 (torch.hub's convention), checked on first use. The feature is the
pooled vector the classifier reads: the classifier is replaced by an identity.

Who uses them: DIViTA / Trailers12k (Montalvo-Lezama et al.) runs ShuffleNetV2, ResNet and Swin
on each clip's representative frame and the 3-D ShuffleNet, R(2+1)D and Swin-3D on shot clips of
24 frames; MMX-Trailer-20 (Fish et al.) uses R(2+1)D as its motion expert and a Places365 ResNet
as its scene expert; video_features offers R(2+1)D, S3D and ResNet.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cinefeat.extract import pretrained
from cinefeat.extract.backbones import Backbone, InputSpec, register_backbone

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
KINETICS = ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989))
MVIT = ((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))
TV_LICENCE = "BSD-3-Clause (torchvision code; weights: see the model's documentation)"
KINETICS_LICENCE = "BSD-3-Clause (torchvision); Kinetics-400 is for research use (CC BY 4.0 list)"


def build_torchvision(path: str, classifier: str, **kwargs: Any) -> Any:
    """`torchvision.models.<path>(weights=None)` with `classifier` replaced by an identity."""
    import importlib

    import torch
    from torch import nn

    module, _, function = f"torchvision.models.{path}".rpartition(".")
    model = getattr(importlib.import_module(module), function)(weights=None, **kwargs)
    setattr(model, classifier, nn.Identity())
    torch.manual_seed(0)  # nothing random is used, but keep a build reproducible anyway
    return model


def _torchvision(
    name: str,
    kind: str,
    path: str,
    url: str,
    dim: int,
    spec: InputSpec,
    description: str,
    classifier: str = "fc",
    licence: str = TV_LICENCE,
    used_by: str = "",
) -> Backbone:
    entry = pretrained.register_weights(
        pretrained.PretrainedWeights(
            name=f"torchvision-{name}",
            files=(pretrained.hub_file(url),),
            format="pytorch-state-dict",
            licence=licence,
            description=description,
            source=f"torchvision.models.{path}",
            preprocessing=spec.as_dict(),
        )
    )
    return register_backbone(
        Backbone(
            name=name,
            kind=kind,  # type: ignore[arg-type]
            weights=entry.name,
            build=partial(build_torchvision, path, classifier),
            dim=dim,
            input=spec,
            layer=f"input of `{classifier}` (pooled, {dim}-d); the classifier is removed",
            description=description,
            drop_prefixes=(f"{classifier}.",),
            used_by=used_by,
        )
    )


PT = "https://download.pytorch.org/models"
R3D = InputSpec(128, 112, *KINETICS, frames=16, fps=15.0)  # torchvision resizes to (128, 171)
S3D = InputSpec(256, 224, *KINETICS, frames=32, fps=15.0)
SWIN3D = InputSpec(256, 224, *IMAGENET, frames=32, fps=15.0)
MVIT_16 = InputSpec(256, 224, *MVIT, frames=16, fps=7.5)  # MViT takes exactly 16 frames
IN_256 = InputSpec(256, 224, *IMAGENET)
IN_232 = InputSpec(232, 224, *IMAGENET)
SWIN_T = InputSpec(232, 224, *IMAGENET, interpolation="bicubic")
SWIN_B = InputSpec(238, 224, *IMAGENET, interpolation="bicubic")

# fmt: off
# (name, file on download.pytorch.org, dim, input, classifier attribute, description, used by)
VIDEO = (
    ("r2plus1d_18", "r2plus1d_18-91a641e6.pth", 512, R3D, "fc",
     "R(2+1)D-18, Kinetics-400 (Tran et al. 2018)", "DIViTA; Fish et al.; video_features"),
    ("r3d_18", "r3d_18-b3b3357e.pth", 512, R3D, "fc",
     "R3D-18, Kinetics-400 (Tran et al. 2018)", ""),
    ("mc3_18", "mc3_18-a90a0ba3.pth", 512, R3D, "fc",
     "MC3-18, Kinetics-400 (Tran et al. 2018)", ""),
    ("s3d", "s3d-d76dad2f.pth", 1024, S3D, "classifier",
     "S3D, Kinetics-400 (Xie et al. 2018)", "video_features"),
    ("swin3d_t", "swin3d_t-7615ae03.pth", 768, SWIN3D, "head",
     "Video Swin-T, Kinetics-400 (Liu et al. 2022)", "DIViTA (Swin-3D)"),
    ("swin3d_s", "swin3d_s-da41c237.pth", 768, SWIN3D, "head",
     "Video Swin-S, Kinetics-400 (Liu et al. 2022)", ""),
    ("swin3d_b", "swin3d_b_1k-24f7c7c6.pth", 1024, SWIN3D, "head",
     "Video Swin-B, Kinetics-400 (Liu et al. 2022)", ""),
    ("mvit_v1_b", "mvit_v1_b-dbeb1030.pth", 768, MVIT_16, "head",
     "MViT-v1-B 16x4, Kinetics-400 (Fan et al. 2021)", ""),
    ("mvit_v2_s", "mvit_v2_s-ae3be167.pth", 768, MVIT_16, "head",
     "MViT-v2-S, Kinetics-400 (Li et al. 2022)", ""),
)
IMAGE = (
    ("shufflenet_v2_x1_0", "shufflenetv2_x1-5666bf0f80.pth", 1024, IN_256, "fc",
     "ShuffleNetV2 x1.0, ImageNet-1k (Ma et al. 2018)", "DIViTA (2-D)"),
    ("resnet18", "resnet18-f37072fd.pth", 512, IN_256, "fc", "ResNet-18, ImageNet-1k", ""),
    ("resnet50", "resnet50-11ad3fa6.pth", 2048, IN_232, "fc",
     "ResNet-50 (IMAGENET1K_V2), ImageNet-1k", "DIViTA (2-D); video_features"),
    ("swin_t", "swin_t-704ceda3.pth", 768, SWIN_T, "head",
     "Swin-T, ImageNet-1k (Liu et al. 2021)", "DIViTA (Swin-2D)"),
    ("swin_b", "swin_b-68c6b09e.pth", 1024, SWIN_B, "head",
     "Swin-B, ImageNet-1k (Liu et al. 2021)", ""),
)
# fmt: on
for name, file, dim, spec, head, text, by in VIDEO:
    licence = KINETICS_LICENCE
    _torchvision(name, "clips", f"video.{name}", f"{PT}/{file}", dim, spec, text, head, licence, by)
for name, file, dim, spec, head, text, by in IMAGE:
    _torchvision(name, "frames", name, f"{PT}/{file}", dim, spec, text, head, used_by=by)

# Places365 (Zhou et al. 2017, http://places2.csail.mit.edu/): the CSAIL release is the training
# script's checkpoint, torch.save({'epoch', 'arch', 'state_dict', 'best_prec1'}) of a model wrapped
# in nn.DataParallel (keys `module.*`), written by PyTorch 0.2-0.3 in the legacy (non-zip)
# container. Its demo (run_placesCNN_basic.py) resizes to 256x256 and centre-crops 224 with the
# ImageNet mean/std; we resize the short side (no squashing of 2.39:1 frames).
PLACES = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="places365-resnet50",
        files=(
            pretrained.RemoteFile(
                "resnet50_places365.pth.tar",
                "http://places2.csail.mit.edu/models_places365/resnet50_places365.pth.tar",
            ),
        ),
        format="pytorch-training-checkpoint",
        licence="CC BY (Places365 models, MIT CSAIL; see the release page)",
        description="ResNet-50 trained on Places365-Standard (Zhou et al. 2017)",
        source="https://github.com/CSAILVision/places365",
        preprocessing={"resize": 256, "crop": 224, "mean": IMAGENET[0], "std": IMAGENET[1]},
    )
)
register_backbone(
    Backbone(
        name="places365_resnet50",
        kind="frames",
        weights=PLACES.name,
        build=partial(build_torchvision, "resnet50", "fc", num_classes=365),
        dim=2048,
        input=InputSpec(256, 224, *IMAGENET),
        layer="input of `fc` (global average pool, 2048-d); the 365-way classifier is removed",
        description=PLACES.description,
        state_key="state_dict",
        strip_prefix="module.",
        drop_prefixes=("fc.",),
        used_by="Fish et al. (scene expert)",
    )
)
