"""Subcommands of ``facehmm``: one module each, with ``add_parser`` and ``run``.

A module registers itself with ``parser.set_defaults(run=run)``.
"""
