"""The project's Kedro hooks that need no run: the progress line of each node."""

import logging

from kedro.pipeline import node, pipeline

from vaeops.adapters.kedro.hooks import NodeProgressHooks


def test_each_node_start_says_which_of_how_many(caplog):
    nodes = [
        node(lambda x: x, "a", "b", name="first"),
        node(lambda x: x, "b", "c", name="second"),
        node(lambda x: x, "c", "d", name="third"),
    ]
    hooks = NodeProgressHooks()
    with caplog.at_level(logging.INFO, logger="vaeops.adapters.kedro.hooks"):
        for run in (nodes, nodes[1:]):  # a second run counts afresh
            hooks.before_pipeline_run(pipeline(run))
            for started in run:
                hooks.before_node_run(started)
    assert caplog.messages == [
        "node 1 of 3: first",
        "node 2 of 3: second",
        "node 3 of 3: third",
        "node 1 of 2: second",
        "node 2 of 2: third",
    ]
