"""Recommenders and everything that judges or serves them.

Mult-VAE and Mult-DAE with their trainer, the baselines, ranking metrics, serving
by fold-in, latent-space analysis and the rules of scheduled retraining.
"""
