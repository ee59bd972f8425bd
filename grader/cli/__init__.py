"""The command line: ``grade``'s arguments, what it runs, its progress display."""
