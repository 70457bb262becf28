"""``python -m lightattn_ref.bench``: see ``lightattn_ref.bench.cli``."""

from .cli import main

if __name__ == "__main__":
    main()
