"""``python -m mmpose_ext`` runs the ``mmpx`` command line."""

from mmpx.cli.main import main

if __name__ == "__main__":
    main()
