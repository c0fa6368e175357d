"""Shared layer of the bank's middle platform (installed at /opt/python in Lambda).

Modules are imported on demand by the centers, so a function only pays for what it uses.
"""
