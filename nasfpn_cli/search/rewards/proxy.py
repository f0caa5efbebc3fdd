"""``proxy`` (the default reward): each candidate trained briefly by the proxy task
(:mod:`nasfpn_cli.search.proxy_task`) and scored on its held-out split; the budget ASHA
divides is the training's epochs. Its flags are ``--proxy-*``: the proxy's own settings and the
training settings it shares with ``nasfpn train`` (:meth:`ProxySettings.option_sources`)."""
from __future__ import annotations

import re
from pathlib import Path

from ...errors import NasfpnError, SearchError
from ...settings import declared
from ..proxy_task import (DEFAULT_REFERENCE, REFERENCE_FIELDS, SCORES, TRAINED_FIELDS,
                          ProxySettings, ProxyTask, proxy_options)
from ..space import SearchSpace
from . import Candidate, Evaluation, Reward, register_reward


def proxy_flags(text: str | None) -> str | None:
    """``text`` (a hint of the training engine, written for ``nasfpn train``) with each of
    train's flags the proxy takes renamed to its ``--proxy-*`` flag (``--batch-size`` ->
    ``--proxy-batch-size``): a search has no ``--batch-size``."""
    if text is None:
        return None
    flags = {meta.flag_name(item.name): meta.flag_name(item.name, "proxy-")
             for source in ProxySettings.option_sources() for item, meta in declared(source.cls)
             if meta.cli and (source.names is None or item.name in source.names)}
    return re.sub(r"--[a-z][a-z0-9-]*", lambda flag: flags.get(flag.group(), flag.group()), text)


class ProxyReward(Reward):
    """Trains a small detector with the candidate's pyramid (:class:`ProxyTask`) and returns
    its validation score."""

    def __init__(self, settings: ProxySettings, output_dir: Path):
        self.task = ProxyTask(settings, output_dir)

    @property
    def settings(self) -> ProxySettings:
        return self.task.settings

    def prepare(self) -> None:
        try:
            self.task.prepare()
        except NasfpnError as exc:  # the engine's hints name train's flags: say ours (U14)
            exc.hint = proxy_flags(exc.hint)
            raise

    def budget_range(self) -> tuple[int, int]:
        return 1, int(self.settings.epochs)

    def cost(self, genotype) -> int:
        return self.task.cost(genotype)

    def score(self, candidate: Candidate, budget: int | None = None) -> float:
        return self.evaluate(candidate, budget).score

    def evaluate(self, candidate: Candidate, budget: int | None = None) -> Evaluation:
        return self.task.evaluate(candidate.genotype, candidate.seed, budget)


# key_prefix "": the proxy's settings are stored by their bare field names in search.json and
# plan.json (as every search and calibration folder since the first has them)
@register_reward("proxy", settings=ProxySettings, prefix="proxy-", key_prefix="")
def proxy_reward(argument: str | None, space: SearchSpace, settings: ProxySettings,
                 output_dir: Path) -> ProxyReward:
    if argument:
        raise SearchError(f"--reward proxy takes no argument (got proxy:{argument}); "
                          "set it up with the --proxy-* options")
    return ProxyReward(settings, output_dir)


__all__ = ["DEFAULT_REFERENCE", "REFERENCE_FIELDS", "SCORES", "TRAINED_FIELDS", "ProxyReward",
           "ProxySettings", "ProxyTask", "proxy_options"]
