"""What keeps memory flat in the number of records: the report holds histogram bins, not values;
the summary counts in Arrow; dataset stages make Python objects only for duplicates."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from curata.report.build import binned
from curata.stages.conflicts import Conflicts, ConflictSettings
from curata.summary import value_counts


def test_report_histogram_holds_one_count_per_bin_whatever_the_number_of_values() -> None:
    values = np.random.default_rng(0).uniform(0, 1.2, size=1_000_000)
    trace = binned(values, {"start": 0, "end": 1.0001, "size": 0.025})
    assert len(trace["x"]) == len(trace["y"]) <= 42
    # Values past the range are left out, as plotly's own binning does.
    assert trace["y"].sum() == np.count_nonzero(values < trace["x"][-1] + 0.0125)
    assert trace["histfunc"] == "sum"


def test_value_counts_match_counter_most_common_order() -> None:
    labels = ["b", "a", None, "c", "a", "b", "d", "a"]
    expected = dict(Counter(x for x in labels if x is not None).most_common())
    counted = value_counts(pa.chunked_array([labels[:3], labels[3:]], pa.string()))
    assert list(counted.items()) == list(expected.items())


def test_conflicts_flag_whole_groups_with_related_ids_in_row_order() -> None:
    stage = Conflicts(ConflictSettings())
    groups = np.array([0, 1, 0, 2, 0, 1])
    responses = np.zeros((6, 16), dtype=np.uint8)
    responses[2, 0] = 1  # group 0 has two different answers; group 1 the same answer twice
    flagged = stage.flag(groups, pa.array([None] * 6, pa.string()), responses, pa.array(list("abcdef")))
    scores = flagged.columns["conflicting_duplicate"].to_pylist()
    assert scores == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    related = flagged.columns["conflicting_duplicate__related"].to_pylist()
    assert related == [["c", "e"], None, ["a", "e"], None, ["a", "c"], None]
    assert flagged.conflicting_groups == 1
