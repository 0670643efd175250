"""Building blocks shared by every architecture: attention + masks, KV cache, rotary, norms, activations."""
