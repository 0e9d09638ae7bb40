"""Staged feature extraction: scan, probe, decode once, detect scenes, sample, run models, write.

Needs the `[extract]` extra. Nothing heavy is imported here: models load inside `Extractor.load`.
"""
