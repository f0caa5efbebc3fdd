"""A new search refused for its options or settings: exit 1 or 2 naming what is wrong, the
right option in the hint, and no file left behind (no search.json, no generated proxy data:
U9, U14, U17 and U23 of the round-4 probe)."""
from __future__ import annotations

import pytest

SMALL_PROXY = ["--space", "paper", "--controller", "random", "--trials", "1", "--final-top-k",
               "0", "--proxy-images", "12", "--proxy-stack", "1", "--proxy-channels", "16",
               "--proxy-epochs", "1", "--threads", "1"]

# (the options, {placeholders: {DIR} an existing folder, {RUN} the tiny run}, exit code, what
# stderr says)
REFUSED = [
    (["--reward", "supernet:path={DIR}", *SMALL_PROXY], 1,
     "--reward supernet: path must name a file, got the folder"),  # trained 100 steps first
    (["--reward", "supernet:path={RUN}/best.pt", *SMALL_PROXY, "--proxy-batch-size", "4"], 1,
     "not a supernet checkpoint"),  # left search.json and proxy_data/ behind
    (["--reward", "supernet:="], 1, "expected FIELD=VALUE (or SECTION.FIELD=VALUE), got '='"),
    (["--reward", "supernet:steps"], 1, "expected FIELD=VALUE (or SECTION.FIELD=VALUE)"),
    (["--scheduler", "asha", "--asha-min-epochs", "5", "--proxy-epochs", "2"], 2,
     "--asha-min-epochs must be between 1 and --proxy-epochs (2), got 5"),  # was exit 1
    (["--reward", "similarity:fpn", "--asha-eta", "4"], 2, "--asha-eta needs --scheduler asha"),
    (["--reward", "similarity:fpn", "--asha-min-epochs", "2"], 2,
     "--asha-min-epochs needs --scheduler asha"),  # both accepted and ignored, exit 0
    ([*SMALL_PROXY, "--proxy-images", "8", "--proxy-batch-size", "16"], 1,
     "hint: lower --proxy-batch-size"),  # U14: the hint named train's --batch-size
    (["--reward", "supernet", *SMALL_PROXY, "--proxy-images", "8", "--proxy-batch-size", "16"],
     1, "hint: lower --proxy-batch-size"),  # U14 for a supernet search
    (["--reward", "supernet:steps=3,steps=4"], 1, "steps is set twice"),  # U9: 4 kept
    (["--reward", "supernet:steps=6", "--supernet-steps", "5"], 1,
     "steps is also given as --supernet-steps"),  # U9: one of the two kept silently
]


@pytest.mark.parametrize("options, code, message", REFUSED)
def test_a_refused_search_names_the_problem_and_leaves_nothing(run, tmp_path, tiny_run,
                                                               options, code, message):
    (tmp_path / "dir").mkdir()
    names = {"{DIR}": str(tmp_path / "dir"), "{RUN}": str(tiny_run)}
    args = []
    for option in options:
        for key, value in names.items():
            option = option.replace(key, value)
        args.append(option)
    out = tmp_path / "out"
    exit_code, _, err = run("search", *args, "-o", out)
    assert exit_code == code and message in err, err
    assert "internal error" not in err
    assert not out.exists()
