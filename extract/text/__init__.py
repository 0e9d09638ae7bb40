"""Text features: OCR and ASR backends, spelling repair, language id and text encoders.

Why a sub-package: the `ocr` and `asr` extractors share everything after recognition (spelling,
language replacement, token embeddings, rows with spans), and every stage is pluggable. Each stage
is one module with a small registry (`OCR_BACKENDS`, `ASR_BACKENDS`, `LANGUAGE_IDS`,
`TEXT_ENCODERS`), so a backend is added by registering one class. Nothing heavy is imported here.
"""
