"""Plumbing every stage shares: the stage cache, text formats, dates."""
