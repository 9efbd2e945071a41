"""Generative data augmentation for small tabular classifiers.

The study's settings, the class-conditional VAE, the classifiers, batched training
of many small networks, the augmentation arms, the datasets and regimes of the study,
its split protocol and the comparison of each arm with no augmentation. The figures
and report that show the result live in ``vaeops.reports``.
"""
