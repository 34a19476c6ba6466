"""Detection benchmark: cheating executors against the real validator check (issue #3).

Every cheat is a real model run (a variant of the reference weights, a tampered prompt or
sampling, a forged artifact over real numbers), signed exactly as an honest executor signs;
every verdict comes from `attesta_validator.check.check_inference` with the unmodified
reference engine as the validator. Test- and benchmark-only code: nothing here is served.
"""
