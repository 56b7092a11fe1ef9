"""Exports of lsr indexes to other search engines (OpenSearch / Elasticsearch)."""
