"""Intake: from where a class lives (folders, zips, Moodle exports, git URLs at a deadline,
a Classroom roster) to plain folders with unique names and identities; the rest of the grader
sees only those."""
