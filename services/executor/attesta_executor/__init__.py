"""The executor: runs the inferences addressed to its key and vouches for them."""
