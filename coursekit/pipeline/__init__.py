"""``make grade``: the phases, the parallel engine, the rescue run and the printed report."""
