"""Fathom: deep packet inspection for Kubernetes and Linux hosts."""

__version__ = "0.1.0"
