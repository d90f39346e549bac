"""Evaluation metrics, one module per kind of task (classification, regression, tagging)."""
