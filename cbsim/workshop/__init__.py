"""The workshop view: the SolaraViz page (`app`), its panels, and the server (`cbsim viz`)."""
