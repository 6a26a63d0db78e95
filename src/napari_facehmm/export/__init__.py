"""Exports of an analysis: NWB, movement, a video with the states drawn on it, and the one-page report."""
