-- Run once by the postgres image, on an empty volume (docker-entrypoint-initdb.d), and by the
-- tests on their throwaway cluster. MLflow gets a database of its own beside the study storage:
-- Optuna and MLflow both keep an Alembic "alembic_version" table, which would collide in one.
CREATE DATABASE mlflow;
