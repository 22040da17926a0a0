"""Plumbing a learner need not read: online or offline (``mode``), the on-disk cache
(``cache``), atomic files and checksums (``persistence``), the index file format
(``index_file``), giving memory back (``memory``) and the embedding worker process (``worker``).

Imports run one way: nothing here imports a lesson module."""
