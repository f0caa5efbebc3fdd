"""One-shot architecture search: a weight-sharing supernet over the merging-cell space
(:mod:`.model`), trained once by single-path sampling (:mod:`.training`) and scoring candidates
with inherited weights (:mod:`.scoring`); ``--reward supernet`` is
:mod:`nasfpn_cli.search.rewards.supernet`. See docs/search.md, "One-shot supernet"."""
