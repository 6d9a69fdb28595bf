"""`podium install` / `podium uninstall`: Podium's entries in coding-agent and editor config files."""
