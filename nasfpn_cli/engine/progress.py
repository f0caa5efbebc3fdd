"""The training bar's time to the end of the run (the bar itself is ``utils.make_progress``)."""
from __future__ import annotations

from rich.progress import ProgressColumn, Task
from rich.text import Text


class RunEndColumn(ProgressColumn):
    """Time to the end of the whole run: the mean wall time per step since this session began
    (evaluations and checkpoints included, unlike rich's recent-speed ETA) times the steps
    left. A task's ``first`` field is where it started (a resumed run starts past 0)."""

    def render(self, task: Task) -> Text:
        first = int(task.fields.get("first", 0))
        done = task.completed - first
        if task.total is None or task.elapsed is None or done <= 0:
            return Text("ends in -:--:--", style="progress.remaining")
        seconds = int(task.elapsed / done * max(task.total - task.completed, 0))
        minutes, secs = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"ends in {hours}:{minutes:02d}:{secs:02d}", style="progress.remaining")
