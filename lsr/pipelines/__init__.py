"""Pipelines that drive several stages (indexing, search, training, evaluation) with cached outputs."""
