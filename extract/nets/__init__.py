"""PyTorch modules of the pretrained networks the extractors run (own ports, no hub code).

Why own modules: the published checkpoints are plain state dicts (or Keras files) whose key names
we match here, so loading needs neither the authors' training code nor packages that download at
import time. Importing this package imports torch; extractor modules import it inside `load()`.
"""
