"""The validator: checks executors' inferences against the reference model and signs verdicts."""
