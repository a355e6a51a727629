"""rag-service: retrieval over a local TF-IDF index of the platform's runbooks."""
