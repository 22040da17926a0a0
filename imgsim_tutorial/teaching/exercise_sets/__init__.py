"""One module per notebook (``nNN.py``), each a list ``EXERCISES`` of ``exercise_book.Exercise``.

The right answers are worked out here, from the objects the notebook passes to ``check``; the
notebooks show only the questions. Solutions: ``notebooks/solutions/NN_exM.py``."""
