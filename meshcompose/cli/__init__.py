"""Presentation: argparse commands and rendering. The only layer that prints."""
