"""Training AniMo and its PIRenderer-style baseline: the run config
(:mod:`.configuration_animo`), the trained models (:mod:`.modeling_animo`), the losses and the
critic, and the trainer (:mod:`.train`, ``animeceleb-train``)."""
