"""``python -m intentd``: the same command as the ``intentd`` script."""

from intentd.cli import main

if __name__ == "__main__":
    main()
