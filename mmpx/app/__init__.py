"""The application layer: what the commands do, as functions taking one request object (``infer``, ``suggest``,
``train`` and ``test`` with their launcher, ``sigmas``, ``convert``, ``doctor``, ``quickstart``), so that each can
be called and tested without the command line; the command prints what they return.

Like the command line, it may import :mod:`mmpose_ext` (lazily, inside functions); the library never imports it.
"""
