"""Classifier heads over stored feature sequences: training, evaluation, splits, reports.

Layout (one concept per module): `heads/` (registry + one module per head), `data` (padded
tensors, standardisation, prefetch), `store_data` (store -> tensors), `splits`, `train`,
`metrics`, `report`, `late_fusion`, `tune`, `checkpoint`, `predict`, `provenance` (which
extractor made a head's features; refuse others), `mulan` and
`synthetic_tasks` (checks), `cli`. Base install only: never imports `cinefeat.extract`.
"""
