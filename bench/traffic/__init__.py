"""Generate deterministic HTTP, TLS and DNS traffic between two network namespaces and capture it."""
