"""In-process tail sampling: buffer ended spans by trace, decide by policies, forward kept traces."""
