"""Server layer: thin CLI, MCP and LSP adapters over the orchestration core."""
