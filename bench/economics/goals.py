"""The issue's goals the economics bench reports against."""

GOAL_WITHIN = 500  # a full-time cheater caught within this many inferences ...
GOAL_PROBABILITY = 0.99  # ... with at least this probability
HEADLINE_RATE = 0.01  # at this sampling target
