"""Intake: from the paths given on the command line to named submission folders."""
