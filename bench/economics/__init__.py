"""`python -m bench.economics`: does sampling catch cheaters, and does cheating pay?

Monte Carlo over the settler's real rules (`attesta_settler.sprt`, `.settlement`) and the
validators' real sampling policy (`attesta_common.sampling_policy`); see docs/economics.md.
"""
