"""Every Markdown table and figure the pipelines write, by subject. Reports read the
core's results and draw or tabulate them; they import no Kedro, MLflow, adapter or job."""
