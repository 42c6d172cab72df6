"""``python -m smartlic``: the same as the ``smartlic`` command."""

from smartlic.cli import main

if __name__ == "__main__":
    main()
