"""The building blocks of the settings models (vaeops.schema)."""

from vaeops.schema import Block, search_space_of


class Model(Block):
    latent_dim: int
    dropout: float


class Trained(Block):
    model: Model
    learning_rate: float
    anneal_cap: float


def test_a_search_space_flattens_in_the_written_order_with_the_written_values():
    """The sampler draws in the order the space gives, so it is the YAML's, not the
    schema's; an int distribution keeps int bounds, as suggest_int takes them."""
    written = {
        "anneal_cap": {"type": "float", "low": 0.0, "high": 1.0},
        "model": {
            "latent_dim": {"type": "int", "low": 50, "high": 400, "step": 25},
            "dropout": {"type": "float", "low": 0.0, "high": 0.8},
        },
        "learning_rate": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True},
    }
    flat = search_space_of(Trained).model_validate(written).flattened()
    assert list(flat) == ["anneal_cap", "model.latent_dim", "model.dropout", "learning_rate"]
    assert flat["model.latent_dim"] == {"type": "int", "low": 50, "high": 400, "step": 25}
    assert all(type(value) is int for value in list(flat["model.latent_dim"].values())[1:])
    assert flat["learning_rate"] == written["learning_rate"]
