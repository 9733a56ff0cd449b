"""The platform process seam: spawn, signal and kill a tree, liveness, tree accounting, reaping."""
