"""Policy analysis: what incentives cost the centre, paired comparisons of two scenarios on
common random numbers, and the search for the cheapest package that reaches the target."""
