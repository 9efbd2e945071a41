"""Generative data augmentation for small tabular classifiers.

The class-conditional VAE, the classifiers, batched training of many small
networks, the augmentation arms, the datasets and regimes of the study, its
split protocol, the comparison of each arm with no augmentation, and the
figures and report that show the result.
"""
