"""Publishing: a processed site -> a live site, against any Backend (plan, upload, commit, invalidate, lifecycle)."""
