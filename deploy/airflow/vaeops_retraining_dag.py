from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import dag, task

from kedro.framework.session import KedroSession
from kedro.framework.project import configure_project

# Kedro settings required to run your pipeline
env = "local"
pipeline_name = "retraining"
project_path = Path.cwd()
package_name = "vaeops"
conf_source = "" or Path.cwd() / "conf"


def _run_kedro_node(node_names=None, namespaces=None):
    """Run a Kedro pipeline slice. Pass node_names for regular node groups or namespaces for namespace groups."""
    configure_project(package_name)
    with KedroSession.create(project_path=project_path, env=env, conf_source=conf_source) as session:
        if namespaces is not None:
            session.run(pipeline_names=[pipeline_name], namespaces=namespaces)
        else:
            session.run(pipeline_names=[pipeline_name], node_names=node_names)


@dag(
    dag_id="vaeops",
    start_date=datetime(2026,11,1),
    max_active_runs=1,
    schedule="17 3 * * *",
    catchup=False,
    default_args=dict(
        owner="airflow",
        depends_on_past=False,
        email_on_failure=False,
        email_on_retry=False,
        retries=0,
        retry_delay=timedelta(minutes=5)
    ),
)
def vaeops():

    @task(task_id="ingest-current-interactions-retrain-and-decide")
    def ingest_current_interactions_retrain_and_decide():
        _run_kedro_node(node_names=["ingest_current_interactions", "retrain_and_decide"])

    tasks = {
        "ingest-current-interactions-retrain-and-decide": ingest_current_interactions_retrain_and_decide(),
    }


vaeops()