"""digitize: paper scans in; searchable PDF/A, archival metadata, QC and a verifiable hand-off out."""

__version__ = "0.1.0"
