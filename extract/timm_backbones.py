"""Any timm image model as a backbone, by name: `timm:<architecture>[.<tag>]`.

Why: timm is where the image backbones of the field live (SENet-154, the object expert of Fish
et al.; ConvNeXt; EfficientNet; DINO-trained ViTs), each with its pretrained config (input size,
crop fraction, mean/std, interpolation, licence, Hugging Face repository) inside timm itself, so
an entry is made from timm's own data on first use of a name, offline. The weights are the
repository's `model.safetensors` (`timm/<architecture>.<tag>` on the Hugging Face hub; no
checksum is published there, so the first download records it). The feature is timm's pooled
output with `num_classes=0` (the classifier, `pretrained_cfg["classifier"]`, is dropped).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from cinefeat.extract import pretrained
from cinefeat.extract.backbones import Backbone, InputSpec, register_backbone_resolver

PREFIX = "timm:"
HF_RESOLVE = "https://huggingface.co/{repo}/resolve/main/model.safetensors"


def build_timm(architecture: str) -> Any:
    import timm

    return timm.create_model(architecture, pretrained=False, num_classes=0)


def timm_backbone(name: str) -> Backbone | None:
    """The entry for `timm:resnet50` or `timm:resnet50.a1_in1k` (timm's default tag if none)."""
    if not name.startswith(PREFIX):
        return None
    import timm
    import torch

    model_name = name.removeprefix(PREFIX)
    architecture = model_name.split(".", 1)[0]
    if architecture not in timm.list_models():
        raise ValueError(f"{architecture!r} is not a timm model (see timm.list_models())")
    with torch.device("meta"):  # no memory, no time: only the config and the feature size
        model = timm.create_model(model_name, pretrained=False, num_classes=0)
    cfg = model.pretrained_cfg
    repo = cfg.get("hf_hub_id")
    if not repo:
        raise ValueError(f"timm has no Hugging Face weights for {model_name!r}; pick another tag")
    height = int(cfg.get("input_size", (3, 224, 224))[-1])
    spec = InputSpec(
        resize=math.floor(height / float(cfg.get("crop_pct", 0.875))),
        crop=height,
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),  # type: ignore[arg-type]
        std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),  # type: ignore[arg-type]
        interpolation=str(cfg.get("interpolation", "bicubic")),
    )
    weights = pretrained.register_weights(
        pretrained.PretrainedWeights(
            name=f"timm-{repo.removeprefix('timm/')}",
            files=(pretrained.RemoteFile("model.safetensors", HF_RESOLVE.format(repo=repo)),),
            format="safetensors",
            licence=str(cfg.get("license", "see the model card")),
            description=f"timm {repo.removeprefix('timm/')}",
            source=f"https://huggingface.co/{repo}",
            preprocessing=spec.as_dict(),
        )
    )
    classifier = str(cfg.get("classifier") or "")
    return Backbone(
        name=name,
        kind="frames",
        weights=weights.name,
        build=partial(build_timm, model_name),
        dim=int(model.num_features),
        input=spec,
        layer=f"timm pooled features (num_classes=0, {int(model.num_features)}-d)",
        description=weights.description,
        drop_prefixes=(f"{classifier}.",) if classifier else (),
    )


register_backbone_resolver(timm_backbone)


def _weights_resolver(name: str) -> pretrained.PretrainedWeights | None:
    """`cinefeat models download timm-resnet50.a1_in1k` works before the backbone is used."""
    if not name.startswith("timm-"):
        return None
    backbone = timm_backbone(PREFIX + name.removeprefix("timm-"))
    return pretrained.get_weights(backbone.weights) if backbone else None


pretrained.register_resolver(_weights_resolver)
