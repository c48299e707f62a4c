"""One run's outputs: the files `cbsim run` writes and the figures shared by the report and
the workshop view."""
