"""ai-core-service: completions and embeddings from a model backend, with retries."""
