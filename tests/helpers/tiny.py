"""Training parameters small enough for node tests to train in a second."""

TINY_TRAINING_PARAMS = {
    "model": {"kind": "multvae", "hidden_dims": [16], "latent_dim": 4, "dropout": 0.5},
    "epochs": 2,
    "batch_size": 50,
    "learning_rate": 0.01,
    "anneal_cap": 0.2,
    "total_anneal_steps": 100,
    "l2_penalty": 0.0,
    "validation_k": 10,
    "eval_batch_size": 100,
    "seed": 1,
    "device": "cpu",
}
