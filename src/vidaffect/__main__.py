"""``python -m vidaffect`` runs the command line."""
import sys

from vidaffect.cli.main import main

sys.exit(main())
