"""Generative data augmentation for small tabular classifiers.

The class-conditional VAE, the classifiers, batched training of many small
networks, the augmentation arms and the datasets and regimes of the study.
"""
