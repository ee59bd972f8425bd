"""Intake: from where a class lives (folders, zips, Moodle exports, git URLs at a deadline,
a Classroom roster) to plain folders with unique names and identities; the rest of the grader
sees only those.

Also what a folder holds: ``submission`` (its Dockerfile located, its files hashed) and
``integrity`` (fingerprints of what students wrote, near-duplicate pairs). May import labs,
engine's pure modules, facts.
"""
