from dataclasses import dataclass
from nasfpn_cli.settings import setting
from nasfpn_cli.search.rewards import Reward, register_reward

@dataclass(frozen=True)
class LevelCount:
    level: int = setting(4, section="levelcount", minimum=3, maximum=7,
                         help="The pyramid level whose cells are counted.")

@register_reward("levelcount", settings=LevelCount)
class LevelCountReward(Reward):
    def __init__(self, argument, space, settings):
        self.level = settings.level
    def score(self, candidate, budget=None):
        cells = candidate.genotype.cells
        return sum(c.level == self.level for c in cells) / len(cells)
