"""Verification layer: syntax and diagnostics checks of an edit, judged against its base."""
