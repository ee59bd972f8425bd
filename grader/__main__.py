"""``python -m grader`` runs the command line."""

from grader.cli import main_entry

main_entry()
