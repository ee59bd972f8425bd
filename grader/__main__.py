"""``python -m grader`` runs the command line."""

from grader.cli.entry import main_entry

main_entry()
