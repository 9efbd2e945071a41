"""Check that Airflow itself imports the generated retraining DAG (a CI step).

Run it with an interpreter that has Airflow and Kedro installed, e.g.

    python -m venv /tmp/airflow-venv
    /tmp/airflow-venv/bin/pip install "apache-airflow==3.3.2" "kedro==1.7.0"
    AIRFLOW_HOME=$(mktemp -d) /tmp/airflow-venv/bin/python deploy/check_airflow_dag.py

It lives outside deploy/airflow so that Airflow never takes it for a DAG file.
"""

import sys
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

DAG_FOLDER = Path(__file__).parent / "airflow"
EXPECTED = {"vaeops": ["ingest-current-interactions-retrain-and-decide"]}

bag = DagBag(dag_folder=str(DAG_FOLDER))
found = {dag_id: [task.task_id for task in dag.tasks] for dag_id, dag in bag.dags.items()}
if bag.import_errors or found != EXPECTED:
    sys.exit(f"DAG check failed: import errors {bag.import_errors}, DAGs and tasks {found}")
print(f"Airflow imports {DAG_FOLDER}: {found}")
