"""The paper's controller: an LSTM that writes an architecture token by token, trained with PPO.

At every step the LSTM reads the previous token, and a softmax head of that step scores the
choices; choices the search space forbids there (a feature not defined yet, the first input again,
an output level already taken) are masked out. Each proposal remembers the log-probabilities it
was sampled with, so rewards that come back later, in any order, are learned from with the PPO
clipped objective: per-token probability ratios against those old log-probabilities, an advantage
of ``reward - moving-average baseline``, an entropy bonus, and a few epochs per batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..space import SearchSpace
from . import PPOOptions
from .base import Controller, Proposal

MASKED = -1e9  # logit of a forbidden choice: exp() underflows to exactly 0


@dataclass(frozen=True)
class PPOSettings(PPOOptions):
    """Controller and optimiser hyper-parameters (defaults tuned on the similarity reward): the
    ones with a ``--ppo-*`` option (:class:`PPOOptions`) and these."""

    hidden_size: int = 64
    clip: float = 0.2
    baseline_decay: float = 0.95
    logit_bound: float = 2.5  # logits squashed to [-b, b] so no choice's probability collapses to 0


class PolicyNetwork(nn.Module):
    """LSTM over decision steps; one embedding per (step, token) and one softmax head per step."""

    def __init__(self, space: SearchSpace, hidden_size: int, logit_bound: float):
        super().__init__()
        self.logit_bound = logit_bound
        self.num_steps = space.num_decisions
        self.vocab = max(space.vocab_size(kind) for kind in ("first", "level", "op"))
        # row 0 is the start token; row 1 + step * vocab + token is "token chosen at step"
        self.embedding = nn.Embedding(1 + self.num_steps * self.vocab, hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.head_weight = nn.Parameter(torch.randn(self.num_steps, hidden_size, self.vocab) * 0.01)
        self.head_bias = nn.Parameter(torch.zeros(self.num_steps, self.vocab))

    def _logits(self, hidden: torch.Tensor, mask: torch.Tensor, steps: slice) -> torch.Tensor:
        """Masked, bounded logits [batch, len(steps), vocab] from LSTM outputs of those steps."""
        logits = torch.einsum("bth,thv->btv", hidden, self.head_weight[steps])
        logits = logits + self.head_bias[steps]
        if self.logit_bound:
            logits = self.logit_bound * torch.tanh(logits / self.logit_bound)
        return logits.masked_fill(~mask, MASKED)

    def _embed(self, tokens: torch.Tensor, first_step: int) -> torch.Tensor:
        """Embeddings [batch, len, hidden] of tokens chosen at steps first_step, first_step+1..."""
        steps = torch.arange(first_step, first_step + tokens.shape[1])
        return self.embedding(1 + steps * self.vocab + tokens)

    def start(self, batch: int) -> torch.Tensor:
        return self.embedding(torch.zeros(batch, 1, dtype=torch.long))

    def step(self, inputs: torch.Tensor, state, mask: torch.Tensor, step: int):
        """One sampling step: log-probabilities [batch, vocab] and the new LSTM state."""
        hidden, state = self.lstm(inputs, state)
        logits = self._logits(hidden, mask[:, None], slice(step, step + 1))[:, 0]
        return torch.log_softmax(logits, dim=-1), state

    def forward(self, tokens: torch.Tensor,
                masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced log-probabilities and entropies of whole sequences, [batch, steps]."""
        inputs = torch.cat([self.start(tokens.shape[0]), self._embed(tokens[:, :-1], 0)], dim=1)
        hidden, _ = self.lstm(inputs)
        log_dist = torch.log_softmax(self._logits(hidden, masks, slice(None)), dim=-1)
        log_probs = log_dist.gather(2, tokens[..., None]).squeeze(2)
        entropies = -(log_dist.exp() * log_dist).sum(-1)
        return log_probs, entropies


class PPOController(Controller):
    name = "ppo"

    def __init__(self, space: SearchSpace, seed: int, **settings: Any):
        super().__init__(space, seed)
        self.settings = PPOSettings(**settings)
        with torch.random.fork_rng(devices=[]):  # seeded weights, the global RNG untouched
            torch.manual_seed(seed)
            self.policy = PolicyNetwork(space, self.settings.hidden_size,
                                        self.settings.logit_bound)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.settings.learning_rate)
        self.generator = torch.Generator().manual_seed(seed)
        self.baseline: float | None = None
        self.buffer: list[dict[str, Any]] = []  # told proposals waiting for the next update
        self.queue: list[Proposal] = []  # sampled, not yet handed out
        self.updates = 0

    def _masks(self, prefixes: list[list[int]], step: int) -> torch.Tensor:
        """[batch, vocab] booleans: the choices the space allows at ``step`` after each prefix."""
        mask = np.zeros((len(prefixes), self.policy.vocab), dtype=bool)
        for row, prefix in enumerate(prefixes):
            mask[row, self.space.valid_choices(step, prefix)] = True
        return torch.from_numpy(mask)

    @torch.no_grad()
    def _sample(self, count: int) -> list[Proposal]:
        """``count`` architectures from the current policy, sampled side by side."""
        policy = self.policy
        prefixes: list[list[int]] = [[] for _ in range(count)]
        log_probs: list[list[float]] = [[] for _ in range(count)]
        state = None
        inputs = policy.start(count)
        for step in range(policy.num_steps):
            log_dist, state = policy.step(inputs, state, self._masks(prefixes, step), step)
            tokens = torch.multinomial(log_dist.exp(), 1, generator=self.generator)
            chosen = log_dist.gather(1, tokens).squeeze(1).tolist()
            for row, token in enumerate(tokens.squeeze(1).tolist()):
                prefixes[row].append(token)
                log_probs[row].append(chosen[row])
            inputs = policy._embed(tokens, step)
        return [Proposal(self.space.check(prefix), {"log_probs": lp})
                for prefix, lp in zip(prefixes, log_probs)]

    def ask(self) -> Proposal:
        """The next of a batch sampled together (a new batch from the latest policy if empty)."""
        if not self.queue:
            self.queue = self._sample(self.settings.batch_size)
        return self.queue.pop(0)

    def tell(self, proposal: Proposal, reward: float) -> None:
        if self.baseline is None:
            self.baseline = float(reward)
        advantage = float(reward) - self.baseline
        decay = self.settings.baseline_decay
        self.baseline = decay * self.baseline + (1.0 - decay) * float(reward)
        self.buffer.append({"decisions": list(proposal.decisions),
                            "log_probs": list(proposal.info["log_probs"]),
                            "advantage": advantage})
        if len(self.buffer) >= self.settings.batch_size:
            self._update()

    def _update(self) -> None:
        """A few epochs of the PPO clipped objective over the buffered proposals."""
        settings = self.settings
        tokens = torch.tensor([item["decisions"] for item in self.buffer], dtype=torch.long)
        old_log_probs = torch.tensor([item["log_probs"] for item in self.buffer])
        advantages = torch.tensor([item["advantage"] for item in self.buffer])
        advantages = advantages / (advantages.std(unbiased=False) + 1e-8)
        masks = torch.stack([self._masks([item["decisions"] for item in self.buffer], step)
                             for step in range(self.policy.num_steps)], dim=1)
        for _ in range(settings.epochs):
            log_probs, entropy = self.policy(tokens, masks)
            ratio = torch.exp(log_probs - old_log_probs)
            clipped = ratio.clamp(1.0 - settings.clip, 1.0 + settings.clip)
            surrogate = torch.minimum(ratio * advantages[:, None], clipped * advantages[:, None])
            loss = -surrogate.mean() - settings.entropy_weight * entropy.mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.buffer.clear()
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "policy": self.policy.state_dict(),
                "optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state(),
                "baseline": self.baseline, "buffer": [dict(item) for item in self.buffer],
                "queue": [{"decisions": list(p.decisions), "info": p.info} for p in self.queue],
                "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline = state["baseline"]
        self.buffer = [dict(item) for item in state["buffer"]]
        self.queue = [Proposal(tuple(p["decisions"]), dict(p["info"])) for p in state["queue"]]
        self.updates = int(state["updates"])
