"""Agent backends: who plans, works on and reviews tasks when Podium runs a mission itself."""
