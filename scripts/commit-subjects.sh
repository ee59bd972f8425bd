#!/bin/sh
# Commit subjects of at most 72 characters, the why in the body (issue 18), checked by gitlint
# (.gitlint) on every commit since the habit began (SINCE: main when it began; older subjects
# stay as they were). Skipped, with a message, where there is no history to read: no .git (an
# sdist, a copied folder) or a shallow clone that lacks SINCE.
# Usage: scripts/commit-subjects.sh [gitlint]   (default: .venv/bin/gitlint)
SINCE=328fbb76b78b44ace338831f292b6811213ad583
GITLINT=${1:-.venv/bin/gitlint}

if ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo "commit subjects: not a git repository, not checked"
    exit 0
fi
if ! git cat-file -e "$SINCE^{commit}" 2>/dev/null; then
    echo "commit subjects: $SINCE is not in this clone (shallow?), not checked"
    exit 0
fi
exec "$GITLINT" --commits "$SINCE..HEAD"
