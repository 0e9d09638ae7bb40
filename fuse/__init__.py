"""Classifier heads over stored feature sequences: training, evaluation, splits, reports."""
