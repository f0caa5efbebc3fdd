"""``python -m nasfpn_cli`` runs the command-line tool (also under torchrun)."""
from .cli import main

if __name__ == "__main__":
    main()
