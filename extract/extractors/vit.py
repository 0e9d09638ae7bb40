"""`vit`: the ImageNet ViT CLS embedding of each sampled frame.

Why: an ImageNet-supervised ViT is the object/scene-centric visual feature of Cai et al. (ViT-H/14
SWAG) and a useful contrast to CLIP's language-supervised one.

Weights (two backbones, `backbone=`):
- `google/vit-base-patch16-224` (default; Apache-2.0): a Hugging Face directory (`config.json`,
  `model.safetensors`, `preprocessor_config.json`) loaded with transformers'
  `ViTModel.from_pretrained(dir, use_safetensors=True)`; 768-d CLS after the final layer norm;
  mean/std from the directory's preprocessor config (0.5/0.5).
- `vit_h_14_swag` (CC-BY-NC-4.0, SWAG licence): torchvision's `vit_h_14_swag-80465313.pth`
  state dict (`torch.load(weights_only=True)`; the file name carries its sha256 prefix, checked),
  518x518 input, ImageNet mean/std, 1280-d CLS (classification head removed).

Frames arrive with their short side at `image_size` (the decoder resizes) and are centre-cropped
to a square here, as `clip` does (the HF processor's plain 224x224 resize would squash 2.39:1 film
frames).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from cinefeat.extract import pretrained
from cinefeat.extract.base import ExtractorConfig, FrameRequest, register_extractor
from cinefeat.extract.extractors.ast import HF_RESOLVE
from cinefeat.extract.pretrained_extractor import PretrainedExtractor

HF_REPO = "google/vit-base-patch16-224"
HF_FILES = ("model.safetensors", "config.json", "preprocessor_config.json")
SWAG_FILE = "vit_h_14_swag-80465313.pth"
SWAG_SHA256_PREFIX = "80465313"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

HF_WEIGHTS = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="vit-base-patch16-224",
        files=tuple(
            pretrained.RemoteFile(name, HF_RESOLVE.format(repo=HF_REPO, filename=name))
            for name in HF_FILES
        ),
        format="hf-transformers-dir",
        licence="Apache-2.0",
        description="ViT-B/16 ImageNet-21k pre-trained, ImageNet-1k fine-tuned (Dosovitskiy 2021)",
        source=f"https://huggingface.co/{HF_REPO}",
        preprocessing={"image_size": 224, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
    )
)
SWAG_WEIGHTS = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="vit-h-14-swag",
        files=(
            pretrained.RemoteFile(SWAG_FILE, f"https://download.pytorch.org/models/{SWAG_FILE}"),
        ),
        format="pytorch-state-dict",
        licence="CC-BY-NC-4.0 (SWAG weights, facebookresearch/SWAG)",
        description="ViT-H/14 SWAG end-to-end fine-tuned on ImageNet-1k (Singh et al. 2022)",
        source="torchvision ViT_H_14_Weights.IMAGENET1K_SWAG_E2E_V1",
        preprocessing={
            "image_size": 518,
            "mean": IMAGENET_MEAN,
            "std": IMAGENET_STD,
            "interpolation": "bicubic",
        },
    )
)
BACKBONES = {"vit-base-patch16-224": HF_WEIGHTS, "vit_h_14_swag": SWAG_WEIGHTS}
DIMS = {"vit-base-patch16-224": 768, "vit_h_14_swag": 1280}


@dataclass
class VitConfig(ExtractorConfig):
    backbone: Literal["vit-base-patch16-224", "vit_h_14_swag"] = "vit-base-patch16-224"
    sampler: str = "scene-middle"
    image_size: int | None = None  # default: the backbone's (224 or 518)
    weights: str | None = None

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(
                f"vit backbone must be one of {sorted(BACKBONES)}, got {self.backbone!r}"
            )


@register_extractor
class VitExtractor(PretrainedExtractor):
    name = "vit"
    kind = "frames"
    config_class = VitConfig
    config: VitConfig

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._dim = DIMS[self.config.backbone]
        entry = BACKBONES[self.config.backbone]
        self.mean = tuple(entry.preprocessing["mean"])
        self.std = tuple(entry.preprocessing["std"])

    @property
    def default_weights(self) -> str:
        return BACKBONES[self.config.backbone].name

    @property
    def description(self) -> str:
        return BACKBONES[self.config.backbone].description

    @property
    def layer(self) -> str:
        return "CLS token after the final layer norm"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def image_size(self) -> int:
        default = int(BACKBONES[self.config.backbone].preprocessing["image_size"])
        return self.config.image_size or default

    def request(self) -> FrameRequest:
        return FrameRequest(sampler=self.config.sampler, short_side=self.image_size)

    def build(self) -> Any:
        return self._load_swag() if self.config.backbone == "vit_h_14_swag" else self._load_hf()

    def _load_hf(self) -> Any:
        from transformers import ViTModel

        from cinefeat.extract.nets.runtime import ClsToken, require_complete

        folder = pretrained.fetch_all(self.weights)
        self._sha256 = pretrained.weights_sha256(self.weights)
        model, info = ViTModel.from_pretrained(
            str(folder), add_pooling_layer=False, use_safetensors=True, output_loading_info=True
        )
        require_complete(info, folder, "ViTModel")
        processor = json.loads((folder / "preprocessor_config.json").read_text())
        self.mean = tuple(processor.get("image_mean", self.mean))
        self.std = tuple(processor.get("image_std", self.std))
        self._dim = int(model.config.hidden_size)
        return ClsToken(model)

    def _load_swag(self) -> Any:
        import torch

        from cinefeat.extract.nets.runtime import load_state, load_torch_checkpoint

        path, sha256 = self.fetch_weights()
        if self.weights == SWAG_WEIGHTS.name and not sha256.startswith(SWAG_SHA256_PREFIX):
            raise pretrained.ChecksumMismatch(
                f"{path} has sha256 {sha256}, not the published prefix "
                f"{SWAG_SHA256_PREFIX}: delete it and run `cinefeat models download "
                f"{self.weights}`"
            )
        model = build_swag_vit(self.image_size)
        load_state(model, load_torch_checkpoint(path), path)
        model.heads = torch.nn.Identity()  # CLS token after the encoder's final layer norm
        self._dim = int(model.hidden_dim)
        return model

    def prepare(self, item: np.ndarray) -> np.ndarray:
        from cinefeat.extract.nets.runtime import square_crop

        return square_crop(item, self.image_size)


def build_swag_vit(image_size: int) -> Any:
    """torchvision's ViT-H/14 at the SWAG resolution (a function: tests swap in a tiny ViT)."""
    from torchvision.models import vit_h_14

    return vit_h_14(weights=None, image_size=image_size)
