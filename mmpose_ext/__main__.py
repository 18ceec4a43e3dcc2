"""``python -m mmpose_ext`` runs the ``mmpx`` command line (deprecated: use ``mmpx`` or ``python -m mmpx``).

The library never imports the command line: this entry point hands over to ``python -m mmpx`` by module name,
as the ``mmpx`` console script does.
"""

import runpy
import sys

if __name__ == "__main__":
    print("note: `python -m mmpose_ext` is deprecated; use `mmpx` or `python -m mmpx`", file=sys.stderr)
    runpy.run_module("mmpx", run_name="__main__", alter_sys=True)
