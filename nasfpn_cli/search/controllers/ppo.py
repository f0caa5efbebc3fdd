"""The paper's controller: an LSTM that writes an architecture token by token, trained with PPO.

At every step the LSTM reads the previous token, and a softmax head of that decision's *slot*
scores the choices; choices the search space forbids there (a feature not defined yet, the first
input again, an output level already taken) are masked out. In the paper's space the slot is the
step; in the anchored space, whose points have different numbers of decisions, a slot is a fixed
place (cell 3's second input, cell 5's op), so a head always means the same decision. Each
proposal remembers the log-probabilities it was sampled with, so rewards that come back later, in
any order, are learned from with the PPO clipped objective: per-token probability ratios against
those old log-probabilities, an advantage of ``reward - moving-average baseline``, an entropy
bonus, and a few epochs per batch.

Seeded (``--seed-from``), its first proposals are the seeds in order, and the policy first
learns to write them: ``--ppo-imitation-steps`` (100) Adam steps on their log-likelihood (a warm
start by imitation), so its samples start near the seeds rather than uniform. On both datasets,
with the supernet's reward, that is what makes seeding help: without it a seeded PPO searches
like a cold one.
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
    """LSTM over decisions; one embedding per (slot, token) and one softmax head per slot."""

    def __init__(self, space: SearchSpace, hidden_size: int, logit_bound: float):
        super().__init__()
        self.logit_bound = logit_bound
        self.num_slots = space.num_slots
        self.vocab = space.max_vocab
        # row 0 is the start token; row 1 + slot * vocab + token is "token chosen at slot"
        self.embedding = nn.Embedding(1 + self.num_slots * self.vocab, hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.head_weight = nn.Parameter(torch.randn(self.num_slots, hidden_size, self.vocab) * 0.01)
        self.head_bias = nn.Parameter(torch.zeros(self.num_slots, self.vocab))

    def _logits(self, hidden: torch.Tensor, mask: torch.Tensor,
                slots: torch.Tensor) -> torch.Tensor:
        """Masked, bounded logits [batch, len, vocab] from LSTM outputs [batch, len, hidden] at
        ``slots`` [batch, len]."""
        logits = torch.einsum("bth,bthv->btv", hidden, self.head_weight[slots])
        logits = logits + self.head_bias[slots]
        if self.logit_bound:
            logits = self.logit_bound * torch.tanh(logits / self.logit_bound)
        return logits.masked_fill(~mask, MASKED)

    def embed(self, tokens: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """Embeddings [batch, len, hidden] of tokens [batch, len] chosen at slots [batch, len]."""
        return self.embedding(1 + slots * self.vocab + tokens)

    def start(self, batch: int) -> torch.Tensor:
        return self.embedding(torch.zeros(batch, 1, dtype=torch.long))

    def step(self, inputs: torch.Tensor, state, mask: torch.Tensor, slots: torch.Tensor):
        """One sampling step at ``slots`` [batch]: log-probabilities [batch, vocab], new state."""
        hidden, state = self.lstm(inputs, state)
        logits = self._logits(hidden, mask[:, None], slots[:, None])[:, 0]
        return torch.log_softmax(logits, dim=-1), state

    def forward(self, tokens: torch.Tensor, slots: torch.Tensor,
                masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced log-probabilities and entropies of whole sequences, [batch, len]
        (padding positions allow only token 0, so they give 0 and 0)."""
        inputs = torch.cat([self.start(tokens.shape[0]), self.embed(tokens[:, :-1], slots[:, :-1])],
                           dim=1)
        hidden, _ = self.lstm(inputs)
        log_dist = torch.log_softmax(self._logits(hidden, masks, slots), dim=-1)
        log_probs = log_dist.gather(2, tokens[..., None]).squeeze(2)
        entropies = -(log_dist.exp() * log_dist).sum(-1)
        return log_probs, entropies


class PPOController(Controller):
    name = "ppo"

    def __init__(self, space: SearchSpace, seed: int,
                 seeds: tuple[tuple[int, ...], ...] = (), **settings: Any):
        super().__init__(space, seed)
        self.settings = PPOSettings(**settings)
        self.seeds = tuple(tuple(s) for s in seeds)
        with torch.random.fork_rng(devices=[]):  # seeded weights, the global RNG untouched
            torch.manual_seed(seed)
            self.policy = PolicyNetwork(space, self.settings.hidden_size,
                                        self.settings.logit_bound)
        if self.seeds and self.settings.imitation_steps:
            self._imitate(self.seeds, self.settings.imitation_steps)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.settings.learning_rate)
        self.generator = torch.Generator().manual_seed(seed)
        self.baseline: float | None = None
        self.buffer: list[dict[str, Any]] = []  # told proposals waiting for the next update
        self.queue: list[Proposal] = []  # sampled, not yet handed out
        self.seeds_asked = 0
        self.updates = 0

    def _trace(self, sequences: list[list[int]]) -> tuple[torch.Tensor, ...]:
        """Teacher-forcing tensors of whole sequences: tokens, slots and masks padded to the
        longest ([batch, len], [batch, len], [batch, len, vocab]) and which positions are real."""
        length = max(len(seq) for seq in sequences)
        tokens = torch.zeros(len(sequences), length, dtype=torch.long)
        slots = torch.zeros(len(sequences), length, dtype=torch.long)
        masks = np.zeros((len(sequences), length, self.policy.vocab), dtype=bool)
        masks[:, :, 0] = True  # padding: only token 0, so log-probability 0
        for row, seq in enumerate(sequences):
            for step, token in enumerate(seq):
                slot, choices = self.space.next_decision(seq[:step])
                tokens[row, step], slots[row, step] = token, slot
                masks[row, step] = False
                masks[row, step, choices] = True
        real = torch.tensor([[step < len(seq) for step in range(length)] for seq in sequences])
        return tokens, slots, torch.from_numpy(masks), real

    def _imitate(self, sequences: tuple[tuple[int, ...], ...], steps: int) -> None:
        """``steps`` Adam steps on the seeds' mean log-likelihood (its own optimiser, so PPO
        starts with fresh moments)."""
        tokens, slots, masks, _ = self._trace([list(seq) for seq in sequences])
        optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.settings.learning_rate)
        for _ in range(steps):
            log_probs, _ = self.policy(tokens, slots, masks)
            loss = -log_probs.sum(1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    @torch.no_grad()
    def _sample(self, count: int) -> list[Proposal]:
        """``count`` architectures from the current policy, sampled side by side."""
        policy = self.policy
        prefixes: list[list[int]] = [[] for _ in range(count)]
        log_probs: list[list[float]] = [[] for _ in range(count)]
        state = None
        inputs = policy.start(count)
        for _ in range(policy.num_slots):
            nexts = [self.space.next_decision(prefix) for prefix in prefixes]
            if all(item is None for item in nexts):
                break
            mask = np.zeros((count, policy.vocab), dtype=bool)
            slots = torch.zeros(count, dtype=torch.long)
            for row, item in enumerate(nexts):
                if item is None:
                    mask[row, 0] = True  # finished rows idle on token 0 until all are done
                else:
                    slots[row] = item[0]
                    mask[row, item[1]] = True
            log_dist, state = policy.step(inputs, state, torch.from_numpy(mask), slots)
            tokens = torch.multinomial(log_dist.exp(), 1, generator=self.generator)
            chosen = log_dist.gather(1, tokens).squeeze(1).tolist()
            for row, token in enumerate(tokens.squeeze(1).tolist()):
                if nexts[row] is not None:
                    prefixes[row].append(token)
                    log_probs[row].append(chosen[row])
            inputs = policy.embed(tokens, slots[:, None])
        return [Proposal(self.space.check(prefix), {"log_probs": lp})
                for prefix, lp in zip(prefixes, log_probs)]

    @torch.no_grad()
    def _seed_proposal(self, index: int) -> Proposal:
        """Seed ``index`` with its log-probabilities under the current policy, so its reward
        teaches the policy as a sample's does."""
        tokens, slots, masks, _ = self._trace([list(self.seeds[index])])
        log_probs, _ = self.policy(tokens, slots, masks)
        return Proposal(self.seeds[index], {"log_probs": log_probs[0].tolist(), "seed": index})

    def ask(self) -> Proposal:
        """The seeds first, in order; then the next of a batch sampled together (a new batch
        from the latest policy if empty)."""
        if self.seeds_asked < len(self.seeds):
            self.seeds_asked += 1
            return self._seed_proposal(self.seeds_asked - 1)
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
        """A few epochs of the PPO clipped objective over the buffered proposals, averaged over
        their real (unpadded) decisions."""
        settings = self.settings
        tokens, slots, masks, real = self._trace([item["decisions"] for item in self.buffer])
        old_log_probs = torch.zeros(tokens.shape)
        for row, item in enumerate(self.buffer):
            old_log_probs[row, :len(item["log_probs"])] = torch.tensor(item["log_probs"])
        advantages = torch.tensor([item["advantage"] for item in self.buffer])
        advantages = advantages / (advantages.std(unbiased=False) + 1e-8)
        weight = real.float() / real.sum()
        for _ in range(settings.epochs):
            log_probs, entropy = self.policy(tokens, slots, masks)
            ratio = torch.exp(log_probs - old_log_probs)
            clipped = ratio.clamp(1.0 - settings.clip, 1.0 + settings.clip)
            surrogate = torch.minimum(ratio * advantages[:, None], clipped * advantages[:, None])
            loss = -(surrogate * weight).sum() - settings.entropy_weight * (entropy * weight).sum()
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
                "seeds_asked": self.seeds_asked, "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline = state["baseline"]
        self.buffer = [dict(item) for item in state["buffer"]]
        self.queue = [Proposal(tuple(p["decisions"]), dict(p["info"])) for p in state["queue"]]
        self.seeds_asked = int(state.get("seeds_asked", 0))  # checkpoints before seeded PPO
        self.updates = int(state["updates"])
