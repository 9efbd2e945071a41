"""MLflow's side: live tracking, run inputs, the model registry and the pyfunc model."""
