"""Bayesian comparisons of two models that both domains use.

``paired_users``: Bayesian bootstrap over per-user scores of recommenders;
``correlated_cv``: the Bayesian correlated t-test over repeated cross-validation.
"""
