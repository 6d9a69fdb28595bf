"""Orchestration layer: missions, roadmap, durable store, workspaces and agent backends."""
