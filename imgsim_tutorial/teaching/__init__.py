"""Teaching aids the notebooks use: ``exercises`` (checkers and hints), ``plotting`` (static
figures that also show on GitHub and nbviewer) and ``diagrams`` (pictures of the structures)."""
