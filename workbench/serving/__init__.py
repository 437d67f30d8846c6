"""Serving: the champion bundle as a ready-to-call pipeline (``wb.load_champion``)."""

from workbench.serving._champion import ChampionPipeline, load_champion

__all__ = ["ChampionPipeline", "load_champion"]
