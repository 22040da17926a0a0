"""The course's data: what the notebooks search.

- ``beans``: the real ``beans`` photos from the Hugging Face Hub, or the generated offline
  stand-in with the same schema and labels (``load_beans``, ``seeded_subset``);
- ``leaves``: the procedural bean leaves the offline stand-in is drawn from;
- ``images``: decoding and checking photos a learner uploads;
- ``augment``: edited copies of photos, the known near-duplicates of notebook 12;
- ``synthetic``: realistic SYNTHETIC embeddings for every scale experiment.
"""
