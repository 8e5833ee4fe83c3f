"""An example host application: the partition router, metrics and Celery tasks mounted the way Semantik would."""
