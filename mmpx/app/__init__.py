"""The application layer: flows that compose the core and the library (``mmpx doctor``, ``mmpx quickstart``).

Like the command line, it may import :mod:`mmpose_ext` (lazily, inside functions); the library never imports it.
"""
